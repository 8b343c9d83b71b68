import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extractZip } from '../artifacts/extract-zip.js';
import type { Coordinator } from '../coordinator/coordinator.js';

/** Where {@link keepArtifacts} put a local run's artifacts. */
export interface KeptArtifacts {
  readonly dir: string;
  /** Jobs whose artifacts are there, one folder each. */
  readonly jobs: readonly string[];
}

function folderName(jobName: string): string {
  return jobName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'job';
}

/**
 * Before a local run's temporary store goes: extracts the artifacts archive of each job of the
 * pipeline (its latest attempt) into `<dir>/<job name>/`, `dir` being `target` or a new
 * `tessera-artifacts-…` folder in the system's temporary directory. Answers `undefined` when no
 * job uploaded any.
 */
export async function keepArtifacts(
  coordinator: Coordinator,
  pipelineId: number,
  target: string | undefined,
): Promise<KeptArtifacts | undefined> {
  const jobs = await coordinator.repos.jobs.listStatesByPipeline(pipelineId, true);
  const files = (await coordinator.repos.jobArtifacts.listByJobs(jobs.map((job) => job.id))).filter(
    (file) => file.fileType === 'archive' && file.storeKey !== '',
  );
  if (files.length === 0) return undefined;
  const dir = target === undefined ? await mkdtemp(join(tmpdir(), 'tessera-artifacts-')) : resolve(target);
  const kept: string[] = [];
  for (const file of files) {
    const job = jobs.find((candidate) => candidate.id === file.jobId);
    const stored = await coordinator.artifactStore.get(file.storeKey);
    if (job === undefined || stored === undefined) continue;
    const folder = join(dir, folderName(job.name));
    await mkdir(folder, { recursive: true });
    const archive = join(dir, `.${folderName(job.name)}.zip`);
    try {
      await pipeline(stored.stream, createWriteStream(archive, { mode: 0o600 }));
      await extractZip(archive, folder);
      kept.push(job.name);
    } finally {
      await rm(archive, { force: true });
    }
  }
  return { dir, jobs: kept };
}
