/**
 * Artifact throughput through the coordinator: a 200 MB archive uploaded as GitLab Runner does
 * (`POST /api/v4/jobs/:id/artifacts`, multipart, job token) into a real `tessera serve` process
 * (SQLite, filesystem store: streamed, sha256 computed, size-limited), then downloaded by the
 * dependent job (`GET /api/v4/jobs/:id/artifacts`, its job token). The bench acts as the runner.
 * Baseline measured in the same run: a bare node:http server that streams the same bytes into a
 * file and back out. Goal: at least 0.7× the baseline each way, with the coordinator's peak RSS
 * (VmHWM) staying far below the archive's size.
 */
import { randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Coordinator } from '../test/e2e/runner-harness.js';
import { makeRepository } from '../test/runner/git-repository.js';
import { median } from './measure.js';

const SIZE_MB = Number(process.env.BENCH_ARTIFACT_MB ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const root = mkdtempSync(join(tmpdir(), 'tessera-bench-artifacts-'));
const coordinator = new Coordinator(join(root, 'data'));
const source = join(root, 'artifacts.zip');

/** Streams `file` as a multipart upload to `url`; answers the status. */
function upload(url: string, file: string, headers: Record<string, string> = {}): Promise<number> {
  const boundary = 'bench-boundary-1234';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="artifacts.zip"\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + SIZE_MB * 1024 * 1024 + tail.length),
      },
    });
    req.once('response', (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    req.once('error', reject);
    req.write(head);
    const input = createReadStream(file);
    input.pipe(req, { end: false });
    input.once('end', () => req.end(tail));
  });
}

/** Downloads `url` into `file`; answers the status. */
function download(url: string, file: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers });
    req.once('response', (response) => {
      pipeline(response, createWriteStream(file)).then(() => resolve(response.statusCode ?? 0), reject);
    });
    req.once('error', reject);
    req.end();
  });
}

async function timed(run: () => Promise<number>, expected: number): Promise<number> {
  const started = performance.now();
  const status = await run();
  if (status !== expected) throw new Error(`answered ${status}, not ${expected}`);
  return (SIZE_MB / (performance.now() - started)) * 1000;
}

async function runnerCall(
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${coordinator.url}/api/v4${path}`, {
    method: path.endsWith('request') ? 'POST' : 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

try {
  const chunk = randomBytes(1024 * 1024);
  const out = createWriteStream(source);
  for (let index = 0; index < SIZE_MB; index += 1)
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  await new Promise<void>((resolve) => out.end(() => resolve()));

  // Baseline: the same bytes through a bare node:http server that writes them to a file and reads them back.
  const stored = join(root, 'baseline.bin');
  const bare = createServer((req, res) => {
    if (req.method === 'POST') {
      pipeline(req, createWriteStream(stored)).then(
        () => res.writeHead(201).end(),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(200, { 'content-type': 'application/zip' });
      createReadStream(stored).pipe(res);
    }
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;

  await coordinator.start();
  const repo = join(root, 'repo');
  makeRepository(repo, {
    '.gitlab-ci.yml':
      'stages: [build, test]\nbuild: {stage: build, script: x, artifacts: {paths: [dist/]}}\ntest: {stage: test, script: x}\n',
  });
  const projectId = await coordinator.createProject('bench', repo);
  await coordinator.ok('PUT', `/projects/${projectId}`, { max_artifacts_size: SIZE_MB * 2 });
  const runnerToken = await coordinator.registerRunner();

  const samples = {
    upload: [] as number[],
    download: [] as number[],
    bareUpload: [] as number[],
    bareDownload: [] as number[],
  };
  for (let round = 0; round <= ROUNDS; round += 1) {
    await coordinator.createPipeline(projectId);
    const build = await runnerCall('/jobs/request', { token: runnerToken });
    const buildId = build.json.id as number;
    const buildToken = build.json.token as string;
    const up = await timed(
      () =>
        upload(
          `${coordinator.url}/api/v4/jobs/${buildId}/artifacts?artifact_type=archive&artifact_format=zip`,
          source,
          { 'job-token': buildToken },
        ),
      201,
    );
    const bareUp = await timed(() => upload(bareUrl, source), 201);
    await runnerCall(`/jobs/${buildId}`, { token: buildToken, state: 'success' });
    const test = await runnerCall('/jobs/request', { token: runnerToken });
    const testToken = test.json.token as string;
    const target = join(root, 'downloaded.zip');
    const down = await timed(
      () =>
        download(`${coordinator.url}/api/v4/jobs/${buildId}/artifacts`, target, { 'job-token': testToken }),
      200,
    );
    const bareDown = await timed(() => download(bareUrl, target), 200);
    await runnerCall(`/jobs/${test.json.id}`, { token: testToken, state: 'success' });
    // Round 0 warms up (files, caches, JIT).
    if (round > 0) {
      samples.upload.push(up);
      samples.bareUpload.push(bareUp);
      samples.download.push(down);
      samples.bareDownload.push(bareDown);
    }
  }
  const pid = coordinator.child?.process.pid;
  const status = pid === undefined ? '' : readFileSync(`/proc/${pid}/status`, 'utf8');
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
  bare.close();
  const line = (label: string, mine: number[], base: number[]) => {
    const ratios = mine.map((value, index) => value / base[index]!);
    console.log(
      `  ${label.padEnd(9)} coordinator ${median(mine).toFixed(0).padStart(5)} MB/s   bare node:http ${median(base).toFixed(0).padStart(5)} MB/s   ratio ${median(ratios).toFixed(2)} (goal ≥ 0.7: ${median(ratios) >= 0.7 ? 'met' : 'NOT met'})`,
    );
  };
  console.log(
    `\nArtifacts: ${SIZE_MB} MB through the coordinator vs a bare node:http stream (median of ${ROUNDS} rounds)`,
  );
  line('upload', samples.upload, samples.bareUpload);
  line('download', samples.download, samples.bareDownload);
  console.log(`  coordinator peak RSS (VmHWM): ${peak.toFixed(0)} MB for a ${SIZE_MB} MB archive`);
  writeFileSync(join(root, 'done'), '');
} finally {
  await coordinator.stop();
  rmSync(root, { recursive: true, force: true });
}
