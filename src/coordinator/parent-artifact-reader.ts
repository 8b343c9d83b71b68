import type { Readable } from 'node:stream';
import { findJobArchive } from '../artifacts/job-archive.js';
import { openZipEntry, readZipDirectory } from '../artifacts/zip-reader.js';
import { isTesseraError } from '../errors.js';
import { IncludeSourceError } from '../pipeline/include-sources.js';
import { PIPELINE_LIMITS } from '../pipeline/limits.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { Coordinator } from './coordinator.js';

/**
 * Reads files of the artifacts of jobs of pipeline `pipelineId` for a dynamic child pipeline
 * (`trigger: { include: [{ artifact, job }] }`): the latest attempt of the job named `job` with
 * an unexpired archive, the file read out of the zip, at most the size of a configuration file.
 */
export function parentArtifactReader(
  coordinator: Coordinator,
  pipelineId: number,
): (job: string, path: string) => Promise<string> {
  return async (job, path) => {
    const missing = () =>
      new IncludeSourceError(
        `job "${job}" is not in the parent pipeline or has no artifacts (it must run, with artifacts:paths holding the file, before the trigger job)`,
      );
    const candidates = (await coordinator.repos.jobs.listByPipeline<PlannedJob>(pipelineId, true))
      .filter((candidate) => candidate.name === job)
      .reverse();
    const found = candidates[0];
    if (found === undefined) throw missing();
    let storeKey: string;
    try {
      storeKey = (await findJobArchive(coordinator, found)).storeKey;
    } catch (error) {
      if (isTesseraError(error) && error.code === 'ERR_ARTIFACTS_NOT_FOUND') throw missing();
      throw error;
    }
    const source = await coordinator.artifactStore.open(storeKey);
    if (source === undefined) throw missing();
    try {
      const wanted = path.replace(/^\/+/, '');
      const entry = (await readZipDirectory(source)).find(
        (candidate) => candidate.kind === 'file' && candidate.name === wanted,
      );
      if (entry === undefined)
        throw new IncludeSourceError(`"${wanted}" is not in the artifacts of job "${job}"`);
      if (entry.size > PIPELINE_LIMITS.maxFileBytes)
        throw new IncludeSourceError(
          `"${wanted}" of the artifacts of job "${job}" is ${entry.size} bytes, larger than the limit of ${PIPELINE_LIMITS.maxFileBytes} bytes on a configuration file`,
        );
      return (await readAll(await openZipEntry(source, entry))).toString('utf8');
    } catch (error) {
      if (isTesseraError(error) && error.code === 'ERR_ARTIFACTS_ARCHIVE_INVALID')
        throw new IncludeSourceError(`the artifacts of job "${job}" cannot be read: ${error.message}`);
      throw error;
    } finally {
      await source.close();
    }
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
