import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildProgram } from '../../src/cli/main.js';

const ALL = ['ci', 'serve', 'keys', 'oidc', 'runner', 'run', 'id-token', 'token'];

async function registered(...args: string[]): Promise<string[]> {
  const program = await buildProgram(['node', 'tessera', ...args]);
  return program.commands.map((command) => command.name());
}

describe('buildProgram: which commands are loaded', () => {
  it('loads none for --version and -V', async () => {
    assert.deepEqual(await registered('--version'), []);
    assert.deepEqual(await registered('-V'), []);
  });

  it('loads only the named command', async () => {
    assert.deepEqual(await registered('run', '--job', 'x'), ['run']);
    assert.deepEqual(await registered('token', 'decode'), ['token']);
  });

  it('loads all of them, in order, for --help, no command or a typo', async () => {
    assert.deepEqual(await registered('--help'), ALL);
    assert.deepEqual(await registered(), ALL);
    assert.deepEqual(await registered('rnu'), ALL);
  });
});
