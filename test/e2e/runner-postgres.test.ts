// End to end on PostgreSQL: a `tessera serve` process on its own PostgreSQL database and two
// `tessera runner` processes (concurrency 2 each) race for the jobs of one wide pipeline; every
// job runs exactly once (the coordinator claims with FOR UPDATE SKIP LOCKED). Skips without
// TESSERA_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { makeRepository } from '../runner/git-repository.js';
import { type Child, Coordinator, startRunner } from './runner-harness.js';

// Jobs here signal the test through files on the host (markers, pids), which a sandbox would hide;
// the sandbox has tests of its own (runner-sandbox.test.ts).
const SHELL = ['--executor', 'shell'];
const PG_URL = process.env.TESSERA_TEST_DATABASE_URL ?? '';
const skip = PG_URL === '' ? 'TESSERA_TEST_DATABASE_URL is not set; PostgreSQL tests skipped' : false;
const database = `tessera_rt_${randomBytes(6).toString('hex')}`;
let root = '';
let coordinator: Coordinator;
const runners: Child[] = [];

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'tessera-e2e-pg-'));
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(PG_URL);
  url.pathname = `/${database}`;
  coordinator = new Coordinator(join(root, 'data'));
  await coordinator.start(['--database', url.href]);
  for (const name of ['a', 'b']) {
    runners.push(
      startRunner(coordinator, await coordinator.registerRunner(), join(root, `builds-${name}`), 2, SHELL),
    );
  }
});

after(async () => {
  if (skip) return;
  await Promise.all(runners.map((runner) => runner.stop()));
  await coordinator?.stop();
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  rmSync(root, { recursive: true, force: true });
});

describe('runners on a PostgreSQL coordinator', { skip }, () => {
  it('runs every job of a wide pipeline exactly once across two runner processes', async () => {
    const ran = join(root, 'ran.txt');
    const jobs = Array.from(
      { length: 12 },
      (_, index) => `job-${index}:\n  script:\n    - echo "$CI_JOB_ID" >> ${ran}\n    - sleep 0.2\n`,
    ).join('');
    const repo = join(root, 'repo');
    makeRepository(repo, { '.gitlab-ci.yml': jobs });
    const id = await coordinator.createProject('wide', repo);
    const pipeline = await coordinator.createPipeline(id);
    assert.equal((await coordinator.waitForPipeline(id, pipeline.id, undefined, 120_000)).status, 'success');
    const listed = await coordinator.jobs(id, pipeline.id);
    const lines = readFileSync(ran, 'utf8').trim().split('\n').sort();
    assert.deepEqual(lines, listed.map((job) => String(job.id)).sort());
  });
});
