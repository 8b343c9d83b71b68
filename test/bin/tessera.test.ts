/**
 * bin/tessera.js and the esbuild bundle it prefers, in a temporary copy of the package layout
 * (bin, src, dist, a link to the checkout's node_modules): scripts/build-cli-bundle.mjs builds the
 * bundle there, and each way the bin can go is told apart by what it prints. The checkout's own
 * src/ and dist/ are never touched, and V8 code caches land in the copy.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  chmod,
  chown,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { installedPackage } from './fixtures/installed-package.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Printed by `--version` from the bundle (built from the checkout's src/). */
const BUNDLE_VERSION = '0.1.0';
/** Printed by `--version` from the package copy's src/ through tsx, which this file edits. */
const SOURCE_VERSION = '0.1.0-from-src';
/** Printed by any command of the stand-in dist/cli/main.js. */
const DIST_MARK = 'stand-in dist/cli/main.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function node(args: readonly string[], cwd: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env, timeout: 90_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Sets the modification time of every file under `dir` to `seconds` (since the epoch). */
async function dateTree(dir: string, seconds: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await dateTree(path, seconds);
    else await utimes(path, seconds, seconds);
  }
}

describe('bin/tessera.js with the CLI bundle', () => {
  let work: string;
  let pkg: string;
  let bin: string;
  const OLD = Math.floor(Date.now() / 1000) - 3600;

  /** Dates src/ at OLD, the bundle and the stand-in dist at `bundle` and `dist`, then `--version`. */
  async function versionWith(times: { bundle: number; dist: number; newestSource?: number }): Promise<Run> {
    await dateTree(join(pkg, 'src'), OLD);
    if (times.newestSource !== undefined) {
      // Deep in src/, so the walk has to recurse to find it.
      await utimes(join(pkg, 'src/runner/agent.ts'), times.newestSource, times.newestSource);
    }
    await utimes(join(pkg, 'dist/cli-bundle/main.cjs'), times.bundle, times.bundle);
    await utimes(join(pkg, 'dist/cli/main.js'), times.dist, times.dist);
    return node([bin, '--version'], pkg);
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tessera-bin-test-'));
    pkg = join(work, 'package');
    bin = await installedPackage(pkg);
    // With src/ (a checkout): bin then chooses by modification times.
    await cp(join(ROOT, 'src'), join(pkg, 'src'), { recursive: true });
    const main = join(pkg, 'src/cli/main.ts');
    const source = await readFile(main, 'utf8');
    const marked = source.replace(`.version('${BUNDLE_VERSION}')`, `.version('${SOURCE_VERSION}')`);
    assert.notEqual(marked, source, 'src/cli/main.ts declares the version the test expects');
    await writeFile(main, marked);
    await mkdir(join(pkg, 'dist/cli'), { recursive: true });
    await writeFile(
      join(pkg, 'dist/cli/main.js'),
      `export async function runCli() { process.stdout.write(${JSON.stringify(`${DIST_MARK}\n`)}); return 0; }\n`,
    );
  });

  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('builds one CommonJS file with a linked source map and the names kept', async () => {
    assert.deepEqual((await readdir(join(pkg, 'dist/cli-bundle'))).sort(), ['main.cjs', 'main.cjs.map']);
    const main = await readFile(join(pkg, 'dist/cli-bundle/main.cjs'), 'utf8');
    assert.match(main, /\n\/\/# sourceMappingURL=main\.cjs\.map\n$/);
    assert.ok(main.includes('"registerRunCommand"'), 'keepNames: function names survive minifying');
    assert.ok(!/\bimport\(/.test(main), 'no import() left: a vm.Script has no loader for it');
  });

  it('runs the bundle when it is as new as every file in src/', async () => {
    // Equal times are current: npm packs every file with one date.
    const run = await versionWith({ bundle: OLD, dist: OLD });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${BUNDLE_VERSION}\n`);
  });

  it('runs the bundle in an installed layout, which has no src/cli/main.ts', async () => {
    const main = join(pkg, 'src/cli/main.ts');
    const aside = join(work, 'main.ts');
    await cp(main, aside);
    await rm(main);
    try {
      const run = await versionWith({ bundle: OLD - 60, dist: OLD - 60 });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${BUNDLE_VERSION}\n`);
    } finally {
      await cp(aside, main);
    }
  });

  it('falls back to dist/ when a src/ file is newer than the bundle but not than dist/', async () => {
    const run = await versionWith({ bundle: OLD, dist: OLD + 20, newestSource: OLD + 10 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${DIST_MARK}\n`);
  });

  it('runs src/ through tsx when a src/ file is newer than both builds', async () => {
    const run = await versionWith({ bundle: OLD, dist: OLD, newestSource: OLD + 10 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${SOURCE_VERSION}\n`);
  });

  it('runs `tessera ci lint` through the bundle', async () => {
    assert.equal((await versionWith({ bundle: OLD, dist: OLD })).stdout, `${BUNDLE_VERSION}\n`);
    const fixture = join(ROOT, 'test/pipeline/fixtures/valid/minimal.yml');
    const run = await node([bin, 'ci', 'lint', fixture, '--ref', 'main', '--json'], work);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { valid: boolean; jobs: Array<{ name: string }> };
    assert.equal(report.valid, true);
    assert.deepEqual(
      report.jobs.map((job) => job.name),
      ['test'],
    );
  });

  it('runs `tessera run` through the bundle, whose jobs find the bin and mint ID tokens', async () => {
    assert.equal((await versionWith({ bundle: OLD, dist: OLD })).stdout, `${BUNDLE_VERSION}\n`);
    const repo = join(work, 'repo');
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    await writeFile(
      join(repo, '.gitlab-ci.yml'),
      [
        'identity:',
        '  id_tokens:',
        '    MY_ID_TOKEN: { aud: https://relying-party.example }',
        '  script:',
        // The `tessera` on a job's PATH is bin/tessera.js found from the bundle's chunk.
        '    - tessera --version',
        '    - printf %s "$MY_ID_TOKEN" | tessera token decode',
        '',
      ].join('\n'),
    );
    execFileSync('git', ['add', '.'], { cwd: repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '-qm', 'init'], {
      cwd: repo,
    });
    const run = await node([bin, 'run'], repo);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`\\n${BUNDLE_VERSION.replaceAll('.', '\\.')}\\n`));
    assert.match(run.stdout, /"aud": "https:\/\/relying-party\.example"/);
    assert.match(run.stdout, /Pipeline #1 passed/);
  });
});

describe('bin/tessera.js with the V8 code cache of the bundle', () => {
  let work: string;
  let pkg: string;
  let bin: string;
  let cacheHome: string;
  const bundleDir = () => join(pkg, 'dist/cli-bundle');
  const caches = async (dir: string) =>
    (await readdir(dir)).filter((file) => file.endsWith('.v8cache')).sort();
  /** Runs the package's bin; `as` runs it as another user (the test process must be root). */
  const tessera = (...args: string[]) => tesseraAs(undefined, ...args);
  const tesseraAs = (as: number | undefined, ...args: string[]) =>
    new Promise<Run>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome };
      execFile(
        process.execPath,
        [bin, ...args],
        { cwd: work, env, timeout: 60_000, ...(as === undefined ? {} : { uid: as, gid: as }) },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
          resolve({ code, stdout, stderr });
        },
      );
    });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tessera-bin-cache-test-'));
    pkg = join(work, 'package');
    cacheHome = join(work, 'xdg-cache');
    // No src/: the installed layout, which always runs the bundle.
    bin = await installedPackage(pkg);
  });

  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes one cache per command beside the bundle, and reuses it as it is', async () => {
    assert.deepEqual(await caches(bundleDir()), []);
    assert.equal((await tessera('--version')).stdout, `${BUNDLE_VERSION}\n`);
    const [other, ...rest] = await caches(bundleDir());
    assert.deepEqual(rest, []);
    assert.match(other ?? '', /^other-/);
    const written = await stat(join(bundleDir(), other ?? ''));

    const decoded = await tessera('token', 'decode', '--token', 'e30.e30.c2ln');
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.match(decoded.stdout, /"verified": false/);
    assert.equal((await caches(bundleDir())).filter((file) => file.startsWith('token-')).length, 1);

    assert.equal((await tessera('--version')).stdout, `${BUNDLE_VERSION}\n`);
    // V8 accepted the cache, so it was not written again.
    assert.equal((await stat(join(bundleDir(), other ?? ''))).mtimeMs, written.mtimeMs);
    assert.deepEqual(await caches(cacheHome).catch(() => []), [], 'nothing under $XDG_CACHE_HOME');
  });

  it('ignores a cache V8 rejects and writes it again', async () => {
    await tessera('--version');
    const [other] = (await caches(bundleDir())).filter((file) => file.startsWith('other-'));
    assert.ok(other);
    await writeFile(join(bundleDir(), other), 'not a V8 code cache');
    const run = await tessera('--version');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${BUNDLE_VERSION}\n`);
    assert.notEqual(await readFile(join(bundleDir(), other), 'utf8'), 'not a V8 code cache');
  });

  it('writes no cache for a command that fails', async () => {
    const run = await tessera('token', 'decode', '--no-such-flag');
    assert.equal(run.code, 2);
    assert.equal((await caches(bundleDir())).filter((file) => file.startsWith('token-')).length, 1);
    assert.equal((await tessera('bogus-command')).code, 2);
    assert.deepEqual(
      (await caches(bundleDir())).filter((file) => file.startsWith('bogus-')),
      [],
    );
  });

  it('runs on when the cache cannot be read or written', async () => {
    const [other] = (await caches(bundleDir())).filter((file) => file.startsWith('other-'));
    assert.ok(other);
    // A directory where the cache file should be: reading and renaming onto it both fail.
    await rm(join(bundleDir(), other));
    await mkdir(join(bundleDir(), other));
    try {
      const run = await tessera('--version');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${BUNDLE_VERSION}\n`);
      assert.equal(run.stderr, '');
    } finally {
      await rm(join(bundleDir(), other), { recursive: true });
    }
    assert.deepEqual(
      (await readdir(bundleDir())).filter((file) => !file.endsWith('.v8cache')).sort(),
      ['main.cjs', 'main.cjs.map'],
      'no partial cache file left behind',
    );
  });

  it('loads the bundle through require() under --enable-source-maps, without a cache', async () => {
    const fixture = join(ROOT, 'test/pipeline/fixtures/valid/minimal.yml');
    const lint = (...flags: string[]) =>
      new Promise<Run>((resolve) => {
        const args = [...flags, bin, 'ci', 'lint', fixture, '--ref', 'main'];
        execFile(process.execPath, args, { cwd: work, timeout: 60_000 }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
        );
      });
    const mapped = await lint('--enable-source-maps');
    assert.equal(mapped.code, 0, mapped.stderr);
    assert.match(mapped.stdout, /is valid/);
    assert.deepEqual(
      (await caches(bundleDir())).filter((file) => file.startsWith('ci-')),
      [],
    );
    // The same command without the flag goes through the vm.Script and writes its cache.
    assert.equal((await lint()).code, 0);
    assert.equal((await caches(bundleDir())).filter((file) => file.startsWith('ci-')).length, 1);
  });

  it('writes the cache under $XDG_CACHE_HOME/tessera when the package is read-only', async () => {
    // Root writes through a read-only mode, so as root the command runs as nobody (65534), for
    // whom the package is readable and only the cache home writable.
    const asRoot = process.getuid?.() === 0;
    const user = asRoot ? 65534 : undefined;
    if (asRoot) {
      await chmod(work, 0o755);
      await mkdir(cacheHome, { recursive: true });
      await chown(cacheHome, 65534, 65534);
    }
    await chmod(bundleDir(), 0o555);
    try {
      const before = await caches(bundleDir());
      const run = await tesseraAs(user, '--version');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${BUNDLE_VERSION}\n`);
      assert.equal((await caches(join(cacheHome, 'tessera'))).length, 1);
      assert.deepEqual(await caches(bundleDir()), before, 'nothing written beside the bundle');
    } finally {
      await chmod(bundleDir(), 0o755);
    }
  });
});
