import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram, runCli } from '../../src/cli/main.js';

const ALL = ['ci', 'serve', 'keys', 'oidc', 'runner', 'run', 'id-token', 'token', 'version'];

async function registered(...args: string[]): Promise<string[]> {
  const program = await buildProgram(['node', 'tessera', ...args]);
  return program.commands.map((command) => command.name());
}

describe('buildProgram: which commands are loaded', () => {
  it('loads none for --version and -V', async () => {
    assert.deepEqual(await registered('--version'), []);
    assert.deepEqual(await registered('-V'), []);
  });

  it('has a version command beside --version, which prints the same line', async () => {
    assert.deepEqual(await registered('version'), ['version']);
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      assert.equal(await runCli(['node', 'tessera', 'version']), 0);
      assert.equal(await runCli(['node', 'tessera', '--version']), 0);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(written.length, 2);
    assert.match(written[0]!, /^\d+\.\d+\.\d+\n$/);
    assert.equal(written[0], written[1]);
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

describe('--help of every command', () => {
  async function helps(): Promise<Map<string, string>> {
    const program = await buildProgram(['node', 'tessera', '--help']);
    const out = new Map<string, string>();
    const walk = (command: Command, path: string) => {
      out.set(path, command.helpInformation());
      for (const sub of command.commands) walk(sub, `${path} ${sub.name()}`.trim());
    };
    walk(program, '');
    return out;
  }

  it('shows defaults as values (numbers as numbers), names the environment variables, and no internal references', async () => {
    const all = await helps();
    assert.ok(all.size >= 17, [...all.keys()].join(', '));
    for (const [path, text] of all) {
      const flat = text.replace(/\s+/g, ' ');
      assert.doesNotMatch(flat, /\(default: ["[]/, `tessera ${path}: a default shown as a string or a list`);
      assert.doesNotMatch(
        flat,
        /DESIGN|#\d|\.ts\b|src\/|issue \d/i,
        `tessera ${path}: an internal reference`,
      );
      for (const [flag, variable] of [
        ['--data-dir', 'TESSERA_DATA_DIR'],
        ['--database', 'TESSERA_DATABASE_URL'],
        ['--host', 'TESSERA_HOST'],
        ['--port', 'TESSERA_PORT'],
        ['--issuer <url>', 'TESSERA_ISSUER'],
        ['--log-level', 'TESSERA_LOG_LEVEL'],
      ] as const) {
        if (path.startsWith('token') || !flat.includes(`${flag} `)) continue;
        const line = flat.slice(flat.indexOf(`${flag} `)).split(/ --/)[0]!;
        assert.match(line, new RegExp(`\\(env: ${variable}, default: [^)]+\\)`), `tessera ${path} ${flag}`);
      }
    }
    assert.match(
      all.get('serve')!.replace(/\s+/g, ' '),
      /--runner-concurrency <n> jobs the embedded runner runs at once \(default: 2\)/,
    );
    assert.match(
      all.get('serve')!.replace(/\s+/g, ' '),
      /--port <port> port to listen on, 0 for any free port \(env: TESSERA_PORT, default: 8080\)/,
    );
    assert.match(all.get('runner')!.replace(/\s+/g, ' '), /env: TESSERA_RUNNER_TOKEN/);
    assert.match(
      all.get('runner')!.replace(/\s+/g, ' '),
      /--concurrency <n> jobs run at once, 1 to 999 \(default: 1\)/,
    );
  });
});
