import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import S3rver from 's3rver';
import type { ArtifactStore } from '../../src/artifacts/artifact-store.js';
import { createArtifactStore } from '../../src/artifacts/create-artifact-store.js';
import { FilesystemArtifactStore } from '../../src/artifacts/filesystem-artifact-store.js';
import { loadConfig } from '../../src/config/load.js';
import { isTesseraError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-store-'));
const s3 = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: join(root, 's3'),
  configureBuckets: [{ name: 'ci-artifacts' }],
});
let s3Store: ArtifactStore;

before(async () => {
  const { port } = await s3.run();
  s3Store = createArtifactStore(
    loadConfig(
      {
        dataDir: join(root, 'data-s3'),
        artifactsStore: 's3://ci-artifacts/tessera',
        artifactsS3Endpoint: `http://127.0.0.1:${port}`,
      },
      {},
    ),
    // s3rver's fixed credentials; the store checks its signatures (SigV4).
    { TESSERA_ARTIFACTS_S3_ACCESS_KEY_ID: 'S3RVER', TESSERA_ARTIFACTS_S3_SECRET_ACCESS_KEY: 'S3RVER' },
  );
});

after(async () => {
  await s3.close();
  rmSync(root, { recursive: true, force: true });
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const kind of ['filesystem', 's3'] as const) {
  describe(`artifact store: ${kind}`, () => {
    const store = () => (kind === 's3' ? s3Store : new FilesystemArtifactStore(join(root, 'fs')));

    it('streams bytes in and out with their size and sha256, reads ranges, and deletes', async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      const stored = await store().put(
        '7/41/archive-a',
        Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
        10 * 1024 * 1024,
      );
      assert.equal(stored.size, bytes.length);
      assert.match(stored.sha256, /^[0-9a-f]{64}$/);
      const got = await store().get('7/41/archive-a');
      assert.ok(got);
      assert.equal(got.size, bytes.length);
      assert.ok((await readAll(got.stream)).equals(bytes));
      const open = await store().open('7/41/archive-a');
      assert.ok(open);
      assert.equal(open.size, bytes.length);
      assert.ok((await open.read(5, 100)).equals(bytes.subarray(5, 105)));
      assert.ok(
        (await readAll(open.stream(1_000_000, 1_000_500))).equals(bytes.subarray(1_000_000, 1_000_500)),
      );
      await open.close();
      await store().delete('7/41/archive-a');
      assert.equal(await store().get('7/41/archive-a'), undefined);
      assert.equal(await store().open('7/41/archive-a'), undefined);
      await store().delete('7/41/archive-a');
    });

    it('refuses more than the limit with 413 and keeps nothing', async () => {
      await assert.rejects(
        store().put('7/42/archive-b', Readable.from([randomBytes(600), randomBytes(600)]), 1000),
        (error: unknown) => isTesseraError(error) && error.code === 'ERR_ARTIFACTS_TOO_LARGE',
      );
      assert.equal(await store().get('7/42/archive-b'), undefined);
      const spool = join(root, kind === 's3' ? 'data-s3/artifacts-spool' : 'fs/tmp');
      assert.deepEqual(readdirSync(spool), []);
    });
  });
}

describe('createArtifactStore', () => {
  it('refuses an s3:// store without credentials, naming the variables to set', () => {
    const config = loadConfig({ dataDir: root, artifactsStore: 's3://bucket' }, {});
    assert.throws(() => createArtifactStore(config, {}), /TESSERA_ARTIFACTS_S3_ACCESS_KEY_ID/);
  });
});
