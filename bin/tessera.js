#!/usr/bin/env node
// Runs the first build that is at least as new as every file in src/, so a checkout never runs
// stale code: the esbuild bundle (dist/cli-bundle/main.cjs, one file that loads in a fraction of
// the time the ~150 modules of dist/ and their dependencies take, which every `tessera run` and
// every `tessera id-token` call inside a job feels), else tsc's dist/, else the TypeScript sources
// through tsx. An installed package never has a newer src/: npm dates every packed file alike.
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'src', 'cli', 'main.ts');
const bundle = join(root, 'dist', 'cli-bundle', 'main.cjs');
const compiled = join(root, 'dist', 'cli', 'main.js');

function newestSourceChange(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // Plain concatenation: path.join normalizes each of the ~160 paths, half the walk's time cold.
    const path = `${dir}/${entry.name}`;
    newest = Math.max(newest, entry.isDirectory() ? newestSourceChange(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function currentBuild() {
  const present = [bundle, compiled].filter((build) => existsSync(build));
  if (present.length === 0 || !existsSync(source)) return present[0];
  // One walk of src/ serves both builds; it takes about 2 ms at start-up (163 files).
  const newest = newestSourceChange(join(root, 'src'));
  return present.find((build) => statSync(build).mtimeMs >= newest);
}

function isWritable(dir) {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads the bundle as require() would, but as a vm.Script fed V8's code cache: the bytecode of
 * every function an earlier run of the same command compiled, which saves parsing and compiling
 * much of the 1.4 MB file again (about 170 ms of `tessera run`). One cache per command, since
 * each reaches different code. The cache lives beside the bundle (the build removes it with the
 * directory) or, in an installed package the user cannot write to, in $XDG_CACHE_HOME/tessera;
 * never in a shared temporary directory, as V8 runs what it finds there. Its name carries the
 * bundle's identity (V8 itself checks only the source's length, besides its own version and
 * flags). A missing or rejected cache is written after a successful run; failing to write it is
 * never an error. Answers the module's exports and that after-run step.
 */
function loadBundle() {
  const { dev, ino, size, ctimeMs } = statSync(bundle);
  const command = /^[a-z][a-z-]*$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
  const cacheDir = isWritable(dirname(bundle))
    ? dirname(bundle)
    : join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tessera');
  const cache = join(cacheDir, `${command}-${dev}-${ino}-${size}-${Math.floor(ctimeMs)}.v8cache`);
  let cachedData;
  try {
    cachedData = readFileSync(cache);
  } catch {
    // no cache yet
  }
  // Node's own CommonJS wrapper; lineOffset keeps stack-trace lines those of main.cjs.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {\n${readFileSync(bundle, 'utf8')}\n})`;
  const script = new Script(wrapped, { filename: bundle, lineOffset: -1, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  const saveCache = () => {
    if (cachedData !== undefined && !script.cachedDataRejected) return;
    // Written whole, then renamed: jobs run `tessera id-token` in parallel.
    const partial = `${cache}.${process.pid}`;
    try {
      mkdirSync(cacheDir, { recursive: true });
      writeFileSync(partial, script.createCachedData());
      renameSync(partial, cache);
    } catch {
      // A read-only or full disk: the next run compiles again.
      rmSync(partial, { force: true });
    }
  };
  return { main: module.exports, saveCache };
}

const build = currentBuild();
let main;
let saveCache = () => {};
if (build === bundle && !process.sourceMapsEnabled) {
  ({ main, saveCache } = loadBundle());
} else if (build) {
  // Under --enable-source-maps Node maps stack traces of what it loads itself, not of a vm.Script.
  main = build === bundle ? createRequire(import.meta.url)(bundle) : await import(build);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  main = await import(source);
}
process.exitCode = await main.runCli(process.argv);
// Only a command that succeeded: a typo or a usage error leaves no cache file behind.
if (process.exitCode === 0) saveCache();
