import { execFile } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { ZipEntry } from '../../artifacts/zip-writer.js';
import { expandVariables } from '../../pipeline/expand-variables.js';
import { compileGlob, hasGlob, staticPrefix } from './glob-pattern.js';

const run = promisify(execFile);

/** What to collect (an `artifacts` or `cache` entry of the payload). */
export interface CollectRequest {
  readonly paths: readonly string[];
  readonly exclude?: readonly string[];
  readonly untracked: boolean;
}

/**
 * Git run by the runner in a directory the job had in its hands: the job may have written
 * `.git/config`, so nothing there may start a program (`core.fsmonitor`, hooks), and no system or
 * global configuration or variable of the job's is read.
 */
export const SAFE_GIT = [
  '-c',
  'core.fsmonitor=false',
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'core.untrackedCache=false',
];
/** The environment of {@link SAFE_GIT}. */
export const SAFE_GIT_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  LANG: 'C',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
};

/** Most entries one archive may collect (a job with a runaway glob must not exhaust the runner). */
const MAX_ENTRIES = 200_000;

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/**
 * Finds the files, directories and symbolic links an `artifacts:`/`cache:` entry names under
 * `root` (the project directory): doublestar globs as GitLab Runner, a matched directory with
 * everything in it, `untracked` adding what git does not track (ignored files too, as GitLab).
 * Nothing outside `root` is taken: a pattern that leaves it (`../x`, an absolute path elsewhere)
 * and a symbolic link whose target leaves it are refused, each with a `WARNING:` line in `log`.
 * Links are archived as links, never followed. Answers zip entries in a stable order.
 */
export async function collectPaths(
  root: string,
  request: CollectRequest,
  variables: Readonly<Record<string, string>>,
  log: (line: string) => void,
): Promise<ZipEntry[]> {
  const realRoot = await realpath(root);
  const found = new Map<string, ZipEntry>();
  const excludes = (request.exclude ?? []).map((pattern) => {
    const clean = cleanPattern(expandVariables(pattern, variables), realRoot);
    return clean === null ? null : compileGlob(clean);
  });
  const excluded = (path: string): boolean => {
    let current = path;
    for (;;) {
      if (excludes.some((pattern) => pattern?.test(current))) return true;
      const slash = current.lastIndexOf('/');
      if (slash < 0) return false;
      current = current.slice(0, slash);
    }
  };
  let excludedCount = 0;

  // Adds `path` (relative, `/`-separated) and, for a directory, everything under it.
  const add = async (path: string, counter: { count: number }): Promise<void> => {
    if (found.has(path) || found.size >= MAX_ENTRIES) return;
    if (excluded(path)) {
      excludedCount += 1;
      return;
    }
    const absolute = join(realRoot, ...path.split('/'));
    const stats = await lstat(absolute).catch(() => undefined);
    if (stats === undefined) return;
    if (stats.isSymbolicLink()) {
      const target = await readlink(absolute);
      const resolved = resolve(join(absolute, '..'), target);
      const real = await realpath(absolute).catch(() => resolved);
      if (isAbsolute(target) || !inside(realRoot, resolved) || !inside(realRoot, real)) {
        log(`WARNING: ${path}: symbolic link to ${target} leaves the build directory; not archived`);
        return;
      }
      found.set(path, { kind: 'symlink', name: path, target, mtime: stats.mtime });
      counter.count += 1;
      return;
    }
    if (stats.isDirectory()) {
      found.set(path, { kind: 'directory', name: `${path}/`, mode: stats.mode, mtime: stats.mtime });
      counter.count += 1;
      const children = await readdir(absolute, { withFileTypes: true }).catch(() => [] as Dirent[]);
      children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const child of children) await add(`${path}/${child.name}`, counter);
      return;
    }
    if (stats.isFile()) {
      found.set(path, { kind: 'file', name: path, source: absolute, mode: stats.mode, mtime: stats.mtime });
      counter.count += 1;
    }
  };

  for (const written of request.paths) {
    const pattern = cleanPattern(expandVariables(written, variables), realRoot);
    if (pattern === null) {
      log(`WARNING: ${written}: not in the build directory (${realRoot}); not archived`);
      continue;
    }
    const counter = { count: 0 };
    if (pattern === '') {
      for (const child of (await readdir(realRoot)).sort()) await add(child, counter);
    } else if (!hasGlob(pattern)) {
      // The path's directories must not be links that lead elsewhere.
      const parent = await realpath(join(realRoot, ...pattern.split('/').slice(0, -1))).catch(
        () => undefined,
      );
      if (parent !== undefined && !inside(realRoot, parent)) {
        log(
          `WARNING: ${written}: goes through a symbolic link that leaves the build directory; not archived`,
        );
        continue;
      }
      await add(pattern, counter);
    } else {
      const matcher = compileGlob(pattern);
      const start = staticPrefix(pattern);
      const startDir = await realpath(join(realRoot, ...start.split('/').filter(Boolean))).catch(
        () => undefined,
      );
      if (startDir !== undefined && inside(realRoot, startDir)) {
        await walk(realRoot, start, async (path) => {
          if (matcher.test(path)) await add(path, counter);
        });
      }
    }
    if (counter.count === 0)
      log(
        `WARNING: ${written}: no matching files. Ensure that the artifact path is relative to the working directory (${root})`,
      );
    else log(`${written}: found ${counter.count} matching artifact files and directories`);
  }
  if (request.untracked) {
    const counter = { count: 0 };
    const listed = await run('git', [...SAFE_GIT, '-C', realRoot, 'ls-files', '--others', '-z'], {
      maxBuffer: 64 * 1024 * 1024,
      env: SAFE_GIT_ENV,
    })
      .then(({ stdout }) => stdout.split('\0').filter(Boolean))
      .catch(() => [] as string[]);
    for (const path of listed.sort()) await add(path.replace(/\/$/, ''), counter);
    log(`untracked: found ${counter.count} files`);
  }
  if (excludedCount > 0) log(`excluded ${excludedCount} matching files and directories (artifacts:exclude)`);
  if (found.size >= MAX_ENTRIES)
    log(`WARNING: more than ${MAX_ENTRIES} files matched; only the first ${MAX_ENTRIES} are archived`);
  // Parent directories first (a zip reader creates them before their files).
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A pattern relative to `root`, `/`-separated, without `./` or a trailing `/`; `''` for the
 * root itself; `null` when it leaves `root`.
 */
function cleanPattern(pattern: string, root: string): string | null {
  let text = pattern.trim().replace(/\\/g, '/');
  if (text.startsWith('/')) {
    const rel = relative(root, text);
    if (rel.startsWith('..') || isAbsolute(rel)) return null;
    text = rel.split(sep).join('/');
  }
  const normalised = posix.normalize(text).replace(/\/+$/, '');
  if (normalised === '.' || normalised === '') return '';
  if (normalised === '..' || normalised.startsWith('../')) return null;
  return normalised.replace(/^\.\//, '');
}

/** Visits every path under `start` (relative), not following links, not entering `.git`. */
async function walk(root: string, start: string, visit: (path: string) => Promise<void>): Promise<void> {
  const queue = [start];
  let seen = 0;
  while (queue.length > 0) {
    const dir = queue.shift()!;
    const absolute = join(root, ...dir.split('/').filter(Boolean));
    const children = await readdir(absolute, { withFileTypes: true }).catch(() => [] as Dirent[]);
    for (const child of children) {
      const path = dir === '' ? child.name : `${dir}/${child.name}`;
      if (path === '.git') continue;
      seen += 1;
      if (seen > MAX_ENTRIES * 5) return;
      await visit(path);
      if (child.isDirectory()) queue.push(path);
    }
  }
}
