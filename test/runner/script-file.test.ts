import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { commandEcho, renderScript, writeScriptFile } from '../../src/runner/script-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-script-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function runScript(commands: string[]): Promise<{ status: number; output: string }> {
  const path = await writeScriptFile(join(dir, 'script.sh'), commands);
  try {
    return {
      status: 0,
      output: execFileSync('bash', ['--noprofile', '--norc', path], { cwd: dir, encoding: 'utf8' }),
    };
  } catch (error) {
    const failure = error as { status: number; stdout: string };
    return { status: failure.status, output: failure.stdout };
  }
}

describe('script file', () => {
  it('echoes each command as GitLab does, multi-line commands collapsed', () => {
    assert.equal(commandEcho('  echo hi  '), '$ echo hi');
    assert.equal(
      commandEcho('if true; then\n  echo yes\nfi'),
      '$ if true; then # collapsed multi-line command',
    );
  });

  it('quotes commands with quotes safely in the echo', () => {
    assert.match(
      renderScript([`echo 'it''s' "$HOME"`]),
      /printf '%s\\n' '\$ echo '\\''it'\\'''\\''s'\\'' "\$HOME"'/,
    );
  });

  it('runs in one shell with set -eo pipefail and stderr merged into stdout', async () => {
    const result = await runScript(['cd /', 'pwd', 'echo to-stderr >&2', 'false | true', 'echo after-pipe']);
    assert.equal(result.status, 1);
    assert.equal(result.output, '$ cd /\n$ pwd\n/\n$ echo to-stderr >&2\nto-stderr\n$ false | true\n');
    const mode = statSync(
      join(dir, (await writeScriptFile(join(dir, 'x.sh'), ['true'])).split('/').pop() ?? ''),
    ).mode;
    assert.equal(mode & 0o777, 0o700);
  });
});
