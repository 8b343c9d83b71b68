import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { extractZip } from '../../src/artifacts/extract-zip.js';
import { writeZip, type ZipEntry } from '../../src/artifacts/zip-writer.js';
import { isTesseraError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-zip-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function zip(file: string, entries: ZipEntry[]): Promise<void> {
  const output = createWriteStream(file);
  await writeZip(entries, output);
  await new Promise<void>((resolve, reject) =>
    output.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

/** A zip with one stored entry of any name and content, written by hand (what a hostile upload could hold). */
function handMadeZip(name: string, content: Buffer, unixMode = 0o100644): Buffer {
  const nameBytes = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc32(content), 14);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4);
  central.writeUInt32LE(crc32(content), 16);
  central.writeUInt32LE(content.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE((unixMode << 16) >>> 0, 38);
  const body = Buffer.concat([local, nameBytes, content]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12);
  end.writeUInt32LE(body.length, 16);
  return Buffer.concat([body, central, nameBytes, end]);
}

describe('zip writer and extractor', () => {
  it('round-trips files, directories, modes and links, and unzip reads what it writes', async () => {
    const source = join(root, 'source');
    mkdirSync(join(source, 'dist/sub'), { recursive: true });
    writeFileSync(join(source, 'dist/app.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    const big = Buffer.alloc(3 * 1024 * 1024, 'tessera ');
    writeFileSync(join(source, 'dist/sub/big.txt'), big);
    const now = new Date();
    const archive = join(root, 'a.zip');
    await zip(archive, [
      { kind: 'directory', name: 'dist/', mode: 0o755, mtime: now },
      { kind: 'file', name: 'dist/app.sh', source: join(source, 'dist/app.sh'), mode: 0o755, mtime: now },
      { kind: 'directory', name: 'dist/sub/', mode: 0o755, mtime: now },
      {
        kind: 'file',
        name: 'dist/sub/big.txt',
        source: join(source, 'dist/sub/big.txt'),
        mode: 0o644,
        mtime: now,
      },
      { kind: 'symlink', name: 'dist/link', target: 'app.sh', mtime: now },
    ]);
    assert.ok(statSync(archive).size < big.length / 10, 'deflated');
    const listing = execFileSync('unzip', ['-t', archive], { encoding: 'utf8' });
    assert.match(listing, /No errors detected/);
    const target = join(root, 'out');
    mkdirSync(target);
    const summary = await extractZip(archive, target);
    assert.equal(summary.files, 2);
    assert.equal(readFileSync(join(target, 'dist/app.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(statSync(join(target, 'dist/app.sh')).mode & 0o777, 0o755);
    assert.ok(readFileSync(join(target, 'dist/sub/big.txt')).equals(big));
    assert.equal(readlinkSync(join(target, 'dist/link')), 'app.sh');
  });

  for (const [label, name, mode] of [
    ['a ../ name', '../evil.txt', 0o100644],
    ['an absolute name', '/tmp/evil.txt', 0o100644],
    ['a link leaving the directory', 'evil', 0o120777],
  ] as const) {
    it(`refuses ${label} before writing anything outside`, async () => {
      const archive = join(root, `evil-${mode}-${name.length}.zip`);
      writeFileSync(archive, handMadeZip(name, Buffer.from(mode === 0o120777 ? '../../etc' : 'pwned'), mode));
      const target = join(root, `target-${name.length}-${mode}`);
      mkdirSync(target);
      await assert.rejects(extractZip(archive, target), (error: unknown) => {
        assert.ok(isTesseraError(error));
        assert.equal(error.code, 'ERR_ARTIFACTS_ARCHIVE_INVALID');
        return true;
      });
    });
  }

  it('refuses a corrupt archive and an entry whose checksum fails', async () => {
    const target = join(root, 'corrupt-out');
    mkdirSync(target);
    const garbage = join(root, 'garbage.zip');
    writeFileSync(garbage, 'not a zip');
    await assert.rejects(extractZip(garbage, target), /not a valid zip/);
    const bad = handMadeZip('file.txt', Buffer.from('hello'));
    bad.writeUInt8(bad.readUInt8(30 + 'file.txt'.length) ^ 0xff, 30 + 'file.txt'.length);
    const damaged = join(root, 'damaged.zip');
    writeFileSync(damaged, bad);
    await assert.rejects(extractZip(damaged, target), /checksum/);
  });
});
