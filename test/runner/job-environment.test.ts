import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildJobEnvironment, MINIMAL_PATH } from '../../src/runner/job-environment.js';
import { expandVariables } from '../../src/runner/job-variable.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-job-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('buildJobEnvironment', () => {
  it('holds the job variables plus PATH, HOME, TMPDIR, LANG and nothing of the runner', async () => {
    const { env, maskedValues } = await buildJobEnvironment({
      variables: [
        { key: 'A', value: '1' },
        { key: 'A', value: '2' },
        { key: 'SECRET', value: 'masked-value', masked: true },
        { key: 'CERT', value: 'file-content\n', file: true, masked: true },
        { key: 'bad-name', value: 'x' },
        { key: 'CI_PROJECT_DIR', value: '/elsewhere' },
      ],
      projectDir: join(dir, 'project'),
      buildsDir: dir,
      jobTempDir: join(dir, 'job.tmp'),
      extraPath: ['/opt/tessera/bin'],
    });
    assert.equal(env.A, '2');
    assert.equal(env.PATH, `/opt/tessera/bin:${MINIMAL_PATH}`);
    assert.equal(env.HOME, join(dir, 'job.tmp', 'home'));
    assert.equal(env.LANG, 'C.UTF-8');
    assert.equal(env.CI_PROJECT_DIR, join(dir, 'project'));
    assert.equal(env['bad-name'], undefined);
    assert.equal(readFileSync(env.CERT ?? '', 'utf8'), 'file-content\n');
    assert.equal(statSync(env.CERT ?? '').mode & 0o777, 0o600);
    assert.deepEqual(maskedValues, ['masked-value', 'file-content\n']);
    for (const key of Object.keys(process.env)) {
      if (!['PATH', 'HOME', 'LANG', 'TMPDIR', 'A'].includes(key)) assert.equal(env[key], undefined, key);
    }
  });
});

describe('expandVariables', () => {
  it('expands $NAME and {NAME} forms, unknown to empty, $$ to $', () => {
    const variables = [
      { key: 'TOKEN', value: 'abc' },
      { key: 'URL', value: 'http://x' },
    ];
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the syntax under test
    assert.equal(expandVariables('$TOKEN-${URL}/$NOPE/$$', variables), 'abc-http://x//$');
  });
});
