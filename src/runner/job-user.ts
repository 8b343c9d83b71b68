import { execFileSync } from 'node:child_process';
import { chmod, chown, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../errors.js';

/** The unprivileged account job processes run as (`--job-user`). */
export interface JobUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Resolves `--job-user NAME` (a user name or a numeric uid) to its uid and primary gid. Only a
 * runner running as root can switch users, so anything else is refused here, before any job.
 */
export function resolveJobUser(name: string): JobUser {
  if (process.getuid?.() !== 0) {
    throw new TesseraError(
      'ERR_CONFIG_INVALID',
      '--job-user needs the runner to run as root (it switches to that user for each job)',
    );
  }
  const id = (flag: '-u' | '-g') => {
    try {
      return Number(
        execFileSync('id', [flag, '--', name], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim(),
      );
    } catch {
      throw new TesseraError('ERR_CONFIG_INVALID', `--job-user ${name} is not a user on this machine`);
    }
  };
  const user = { name, uid: id('-u'), gid: id('-g') };
  if (user.uid === 0) throw new TesseraError('ERR_CONFIG_INVALID', '--job-user must not be root');
  return user;
}

/**
 * Hands a job's directory tree to the job user (the runner, as root, created it). Symbolic links
 * are changed themselves, never followed, so a repository cannot make the runner chown files
 * outside the build directory.
 */
export async function giveToJobUser(path: string, user: JobUser): Promise<void> {
  const stat = await lstat(path);
  if (stat.isDirectory()) {
    for (const entry of await readdir(path)) await giveToJobUser(join(path, entry), user);
  }
  if (stat.isSymbolicLink()) await lchown(path, user.uid, user.gid);
  else await chown(path, user.uid, user.gid);
}

/** Lets the job user traverse (not list) a directory on the way to its build directory. */
export async function allowTraverse(path: string): Promise<void> {
  const stat = await lstat(path);
  await chmod(path, (stat.mode & 0o7777) | 0o111);
}
