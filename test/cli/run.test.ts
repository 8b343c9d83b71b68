import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseRunVariables } from '../../src/cli/run.js';
import { isTesseraError } from '../../src/errors.js';
import { formatDuration, jobStatusLabel } from '../../src/local-run/job-status-label.js';
import type { JobView } from '../../src/local-run/pipeline-view.js';
import { projectPathFor } from '../../src/local-run/register-project.js';
import { decideStyle, RunOutput } from '../../src/local-run/run-output.js';
import { selectJobs } from '../../src/local-run/select-jobs.js';
import { summaryTable } from '../../src/local-run/summary-table.js';

function job(fields: Partial<JobView> & Pick<JobView, 'name' | 'status'>): JobView {
  return {
    id: 1,
    stage: 'test',
    allowFailure: false,
    startedAt: null,
    duration: null,
    failureReason: null,
    exitCode: null,
    retried: false,
    ...fields,
  };
}

class Capture extends Writable {
  text = '';
  isTTY: boolean;
  columns = 40;
  constructor(isTTY: boolean) {
    super();
    this.isTTY = isTTY;
  }
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('tessera run flags', () => {
  it('parses --var KEY=VALUE, keeping = in values and the last of a repeated key', () => {
    assert.deepEqual(parseRunVariables(['A=1', 'B=x=y', 'A=2', 'EMPTY=']), { A: '2', B: 'x=y', EMPTY: '' });
  });

  it('refuses a --var without = or with a bad key, without echoing the value', () => {
    for (const bad of ['NOEQUALS', 'BAD-KEY=1', '=value', 'SP ACE=1']) {
      assert.throws(
        () => parseRunVariables([bad]),
        (error) => isTesseraError(error) && error.code === 'ERR_LOCAL_RUN_VARIABLE_INVALID',
      );
    }
    assert.throws(
      () => parseRunVariables(['BAD-KEY=secret-value']),
      (error) => error instanceof Error && !error.message.includes('secret-value'),
    );
  });
});

describe('--job selection', () => {
  const jobs = [
    { name: 'build', needs: null },
    { name: 'lint', needs: [] },
    { name: 'unit', needs: ['build'] },
    { name: 'e2e', needs: ['unit', 'optional-left-out'] },
    { name: 'deploy', needs: null },
  ];

  it('takes the named jobs and, transitively, what their needs name', () => {
    assert.deepEqual([...selectJobs(jobs, ['e2e'])].sort(), ['build', 'e2e', 'unit']);
    assert.deepEqual([...selectJobs(jobs, ['deploy', 'lint'])].sort(), ['deploy', 'lint']);
  });

  it('refuses an unknown job, listing the jobs there are', () => {
    assert.throws(
      () => selectJobs(jobs, ['nope']),
      (error) =>
        isTesseraError(error) &&
        error.code === 'ERR_LOCAL_RUN_JOB_NOT_FOUND' &&
        error.message.includes('jobs: build, deploy, e2e, lint, unit'),
    );
  });
});

describe('local run output', () => {
  it('colours only on a terminal without NO_COLOR (FORCE_COLOR forces, TERM=dumb refuses)', () => {
    assert.equal(decideStyle({ isTTY: true }, {}), true);
    assert.equal(decideStyle({ isTTY: false }, {}), false);
    assert.equal(decideStyle({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(decideStyle({ isTTY: true }, { NO_COLOR: '' }), true);
    assert.equal(decideStyle({ isTTY: true }, { TERM: 'dumb' }), false);
    assert.equal(decideStyle({ isTTY: false }, { FORCE_COLOR: '1' }), true);
    assert.equal(decideStyle({ isTTY: false }, { FORCE_COLOR: '0' }), false);
  });

  it('plain output drops escapes from job logs and never draws a progress line', () => {
    const stream = new Capture(false);
    const output = new RunOutput({ stream, fancy: false });
    output.progress('1/2 jobs done');
    output.write('\u001b[32mgreen\u001b[0m text\n');
    assert.equal(stream.text, 'green text\n');
  });

  it('on a terminal, clears the progress line before a log line and redraws it after', () => {
    const stream = new Capture(true);
    const output = new RunOutput({ stream, fancy: true });
    output.progress('1/2 jobs done · running: a-job-with-a-rather-long-name');
    output.line('log');
    output.clearProgress();
    const lines = stream.text.split('\r\u001b[2K');
    assert.ok(lines[1]?.includes('1/2 jobs done'));
    assert.ok(
      lines[1]?.length && lines[1].replaceAll('\u001b[2m', '').replaceAll('\u001b[22m', '').length <= 39,
      'cut to the width',
    );
    assert.ok(lines[2]?.startsWith('log\n'), 'the log line comes after clearing');
    assert.ok(lines[2]?.includes('1/2 jobs done'), 'and the progress line is redrawn');
    assert.equal(lines.at(-1), '', 'cleared at the end');
  });

  it('labels statuses and durations', () => {
    assert.deepEqual(jobStatusLabel(job({ name: 'a', status: 'success' })), {
      text: 'passed',
      colour: 'green',
    });
    assert.equal(
      jobStatusLabel(job({ name: 'a', status: 'failed', exitCode: 2 })).text,
      'failed (exit code 2)',
    );
    assert.equal(
      jobStatusLabel(job({ name: 'a', status: 'failed', allowFailure: true, exitCode: 1 })).text,
      'failed (allowed, exit code 1)',
    );
    assert.equal(
      jobStatusLabel(job({ name: 'a', status: 'failed', failureReason: 'job_execution_timeout' })).text,
      'failed (job_execution_timeout)',
    );
    assert.equal(formatDuration(null), '-');
    assert.equal(formatDuration(0.42), '0.4s');
    assert.equal(formatDuration(42.4), '42s');
    assert.equal(formatDuration(185), '3m 05s');
  });

  it('prints a summary table with aligned columns', () => {
    const stream = new Capture(false);
    const output = new RunOutput({ stream, fancy: false });
    const table = summaryTable(
      [
        job({ name: 'build', stage: 'build', status: 'success', duration: 1.25 }),
        job({ name: 'a-long-job-name', stage: 'test', status: 'failed', exitCode: 1, duration: 12 }),
      ],
      output,
    );
    assert.equal(
      table,
      [
        'job              stage  status                duration',
        'build            build  passed                1.3s',
        'a-long-job-name  test   failed (exit code 1)  12s',
        '',
      ].join('\n'),
    );
  });

  it('makes a GitLab-valid project path from the directory name', () => {
    assert.equal(projectPathFor('/home/me/My Repo'), 'my-repo');
    assert.equal(projectPathFor('/srv/thing.git'), 'thing');
    assert.equal(projectPathFor('/srv/.hidden.'), 'hidden');
    assert.equal(projectPathFor('/srv/ünï'), 'n');
    assert.equal(projectPathFor('/srv/üï'), 'project');
  });
});
