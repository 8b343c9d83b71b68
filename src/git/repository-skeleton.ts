import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What {@link writeRepositorySkeleton} writes. */
export interface RepositorySkeleton {
  /** A bare repository (a cache) or the `.git` of a working tree. */
  readonly bare: boolean;
  /** What HEAD holds: a commit sha (detached) or `ref: refs/heads/<branch>`. */
  readonly head: string;
  /** Object directories whose objects the repository uses as its own (git's "alternates"). */
  readonly alternates?: readonly string[];
  /** The repository's hash: `sha256` for a repository made with `--object-format=sha256`. */
  readonly objectFormat?: 'sha1' | 'sha256';
}

/**
 * Writes, at `gitDir`, the few files that make a git repository (what `git init` would, without
 * its templates): HEAD, config, `objects/` and `refs/`. Starting `git init` costs more than
 * checking out a small project, and with alternates nothing is copied, so a repository that
 * borrows every object from another is ready at once. `gitDir` must not hold a repository yet.
 */
export async function writeRepositorySkeleton(gitDir: string, skeleton: RepositorySkeleton): Promise<void> {
  await mkdir(join(gitDir, 'objects', 'info'), { recursive: true });
  await mkdir(join(gitDir, 'refs', 'heads'), { recursive: true });
  await mkdir(join(gitDir, 'refs', 'tags'), { recursive: true });
  if (skeleton.alternates && skeleton.alternates.length > 0) {
    await writeFile(join(gitDir, 'objects', 'info', 'alternates'), `${skeleton.alternates.join('\n')}\n`);
  }
  // sha256 repositories need format version 1 and say so, or git reads their objects as sha1.
  const sha256 = skeleton.objectFormat === 'sha256';
  await writeFile(
    join(gitDir, 'config'),
    `[core]\n\trepositoryformatversion = ${sha256 ? 1 : 0}\n\tfilemode = true\n\tbare = ${skeleton.bare}\n\tlogallrefupdates = false\n${
      sha256 ? '[extensions]\n\tobjectformat = sha256\n' : ''
    }`,
  );
  // HEAD last: git takes a directory for a repository once HEAD is there.
  await writeFile(join(gitDir, 'HEAD'), `${skeleton.head}\n`);
}

/** The object format a full commit sha belongs to (64 hex digits: sha256). */
export function objectFormatOf(sha: string): 'sha1' | 'sha256' {
  return sha.length === 64 ? 'sha256' : 'sha1';
}
