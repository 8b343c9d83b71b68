import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The tiny test image built from Debian's busybox-static, without any registry. */
export const BUSYBOX_IMAGE = 'localhost/tessera-test-busybox:1';

/** Where `.ci/run` leaves Debian's busybox-static package; `TESSERA_TEST_BUSYBOX_DEB` overrides. */
export const BUSYBOX_DEB_DIR = '/var/cache/tessera-ci';

/** Marks the image's own `/etc/os-release`, so that a job can tell it runs inside it. */
export const BUSYBOX_OS_ID = 'tessera-test-busybox';

function findDeb(): string | undefined {
  const named = process.env.TESSERA_TEST_BUSYBOX_DEB;
  if (named) return named;
  try {
    const found = readdirSync(BUSYBOX_DEB_DIR).find((name) => /^busybox-static_.*\.deb$/.test(name));
    return found === undefined ? undefined : join(BUSYBOX_DEB_DIR, found);
  } catch {
    return undefined;
  }
}

/**
 * Makes {@link BUSYBOX_IMAGE} in podman's store once (from the busybox-static .deb: `dpkg-deb -x`,
 * a root file system with `/bin/busybox` and its applet links, `podman import`). Answers why
 * not when podman or the package is missing, so that the caller can skip with that reason.
 */
export function ensureBusyboxImage(): { image: string } | { reason: string } {
  const version = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) return { reason: 'podman is not installed (apt-get install podman runc)' };
  if (spawnSync('podman', ['image', 'exists', BUSYBOX_IMAGE]).status === 0) return { image: BUSYBOX_IMAGE };
  const deb = findDeb();
  if (deb === undefined) {
    return {
      reason: `no busybox-static .deb in ${BUSYBOX_DEB_DIR} (.ci/run downloads it: apt-get download busybox-static)`,
    };
  }
  const work = mkdtempSync(join(tmpdir(), 'tessera-busybox-'));
  try {
    const extracted = join(work, 'deb');
    if (spawnSync('dpkg-deb', ['-x', deb, extracted]).status !== 0)
      return { reason: `dpkg-deb cannot read ${deb}` };
    const root = join(work, 'root');
    for (const dir of ['bin', 'etc', 'tmp', 'root', 'www']) mkdirSync(join(root, dir), { recursive: true });
    spawnSync('cp', [join(extracted, 'bin', 'busybox'), join(root, 'bin', 'busybox')]);
    const applets = spawnSync(join(root, 'bin', 'busybox'), ['--list'], { encoding: 'utf8' }).stdout;
    for (const applet of applets.split('\n')) {
      if (applet !== '' && applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
    }
    writeFileSync(join(root, 'etc', 'os-release'), `NAME="Tessera test busybox"\nID=${BUSYBOX_OS_ID}\n`);
    writeFileSync(
      join(root, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n',
    );
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    writeFileSync(join(root, 'www', 'index.html'), 'hello from the service\n');
    const tar = join(work, 'root.tar');
    if (spawnSync('tar', ['-C', root, '-cf', tar, '.']).status !== 0) return { reason: 'tar failed' };
    const imported = spawnSync('podman', ['import', '--change', 'CMD ["/bin/sh"]', tar, BUSYBOX_IMAGE], {
      encoding: 'utf8',
    });
    if (imported.status !== 0) return { reason: `podman import failed: ${imported.stderr.trim()}` };
    return { image: BUSYBOX_IMAGE };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
