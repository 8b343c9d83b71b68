/**
 * `tessera run` passes artifacts and dotenv variables between the jobs of a local pipeline, and
 * leaves each job's artifacts in a folder of its own (`--artifacts-dir`, or a temporary one it names).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

describe('tessera run: artifacts', () => {
  it('hands artifacts and dotenv to later jobs and leaves them in --artifacts-dir', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-run-artifacts-'));
    roots.push(root);
    const dir = join(root, 'demo');
    execFileSync('git', ['init', '-q', '-b', 'main', dir]);
    await writeFile(
      join(dir, '.gitlab-ci.yml'),
      `stages: [build, test]
build:
  stage: build
  script:
    - mkdir -p out && echo hello > out/greeting.txt
    - echo GREETING_FROM=build > vars.env
  artifacts:
    paths: [out/]
    reports: {dotenv: vars.env}
check:
  stage: test
  script:
    - cat out/greeting.txt
    - echo "from=$GREETING_FROM"
`,
    );
    execFileSync('git', ['add', '.'], { cwd: dir });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '-qm', 'init'], {
      cwd: dir,
    });
    const kept = join(root, 'kept');
    const result = spawnSync(process.execPath, [BIN, 'run', '--artifacts-dir', kept], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', TESSERA_RUNNER_EXECUTOR: 'shell' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^hello$/m);
    assert.match(result.stdout, /^from=build$/m);
    assert.match(
      result.stdout,
      new RegExp(`Artifacts of build: ${kept.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
    );
    assert.equal(await readFile(join(kept, 'build', 'out', 'greeting.txt'), 'utf8'), 'hello\n');
  });
});
