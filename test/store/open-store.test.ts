import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { isTesseraError } from '../../src/errors.js';
import { openStore } from '../../src/store/open-store.js';

const PG_URL = process.env.TESSERA_TEST_DATABASE_URL ?? '';

/** Asserts that `promise` rejects with the Tessera error `code` and answers its message. */
async function refusal(promise: Promise<unknown>, code: string): Promise<string> {
  let message = '';
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isTesseraError(error), String(error));
    assert.equal(error.code, code, error.message);
    message = error.message;
    return true;
  });
  return message;
}

describe('openStore (SQLite)', () => {
  it('creates the database file owner-only, even in a data directory made beforehand as 0755', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-open-store-'));
    try {
      const dataDir = join(root, 'data');
      mkdirSync(dataDir, { mode: 0o755 });
      const store = await openStore({ database: '', dataDir });
      try {
        assert.equal(statSync(join(dataDir, 'tessera.db')).mode & 0o777, 0o600);
      } finally {
        await store.db.destroy();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('starts a new store as a copy of a template (owner-only), never over an existing one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-open-store-'));
    const marker = async (dataDir: string, template?: string) => {
      const store = await openStore({
        database: '',
        dataDir,
        ...(template ? { sqliteTemplate: template } : {}),
      });
      try {
        return (await store.db.selectFrom('groups').select('path').execute()).map((row) => row.path);
      } finally {
        await store.close();
      }
    };
    try {
      // A template with a marker row shows which stores were copied from it.
      const templateStore = await openStore({ database: '', dataDir: join(root, 'template') });
      await templateStore.db
        .insertInto('groups')
        .values({
          name: 'm',
          path: 'marker',
          fullPath: 'marker',
          parentId: null,
          visibility: 'private',
          createdAt: 1,
        })
        .execute();
      await templateStore.close();
      const template = join(root, 'template', 'tessera.db');
      chmodSync(template, 0o644);

      assert.deepEqual(await marker(join(root, 'copy'), template), ['marker']);
      assert.equal(statSync(join(root, 'copy', 'tessera.db')).mode & 0o777, 0o600);
      // An existing store is left as it is.
      assert.deepEqual(await marker(join(root, 'plain')), []);
      assert.deepEqual(await marker(join(root, 'plain'), template), []);
      // A missing template is a plain start.
      assert.deepEqual(await marker(join(root, 'missing'), join(root, 'no-such.db')), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('openStore: where it looks and what it refuses', () => {
  it('with create: false, refuses a data directory without a store and names it, creating nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-open-store-'));
    try {
      const missing = join(root, 'missing');
      const message = await refusal(
        openStore({ database: '', dataDir: missing, create: false }),
        'ERR_STORE_NOT_FOUND',
      );
      assert.ok(message.includes(missing), message);
      assert.match(message, /--data-dir \(TESSERA_DATA_DIR\).*--database \(TESSERA_DATABASE_URL\)/);
      assert.equal(existsSync(missing), false);
      // An existing directory without a tessera.db: still no store made in it.
      const empty = join(root, 'empty');
      mkdirSync(empty);
      await refusal(openStore({ database: '', dataDir: empty, create: false }), 'ERR_STORE_NOT_FOUND');
      assert.equal(existsSync(join(empty, 'tessera.db')), false);
      // An existing store opens.
      await (await openStore({ database: '', dataDir: empty })).close();
      await (await openStore({ database: '', dataDir: empty, create: false })).close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('says that a data directory that is a file is a file (not EEXIST)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-open-store-'));
    try {
      const file = join(root, 'data');
      writeFileSync(file, 'not a directory');
      for (const create of [true, false]) {
        const message = await refusal(
          openStore({ database: '', dataDir: file, create }),
          'ERR_STORE_DATA_DIR_INVALID',
        );
        assert.equal(
          message,
          `the data directory ${file} is a file, not a directory: give --data-dir (TESSERA_DATA_DIR) a directory this user can write`,
        );
      }
      const through = await refusal(
        openStore({ database: '', dataDir: join(file, 'sub') }),
        'ERR_STORE_DATA_DIR_INVALID',
      );
      assert.match(through, /goes through a file/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("says why a migration failed, with the database's own reason", async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-open-store-'));
    try {
      // A table of the first migration's, made by someone else: the migration cannot create it.
      const sqlite = new SqliteDatabase(join(root, 'tessera.db'));
      sqlite.exec('create table users (id integer)');
      sqlite.close();
      const message = await refusal(openStore({ database: '', dataDir: root }), 'ERR_STORE_MIGRATION');
      assert.equal(message, 'database migration 0001-initial failed: table "users" already exists');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names the PostgreSQL host and port that refused, and why, never the password', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    // Port 1 on loopback: nothing listens there.
    const message = await refusal(
      openStore({ database: `postgres://tessera:${password}@127.0.0.1:1/tessera`, dataDir: tmpdir() }),
      'ERR_STORE_UNREACHABLE',
    );
    assert.ok(!message.includes(password), message);
    assert.match(
      message,
      /^cannot connect to PostgreSQL tessera@127\.0\.0\.1:1\/tessera \(127\.0\.0\.1:1\): connection refused: nothing listens there \(ECONNREFUSED\); check --database \(TESSERA_DATABASE_URL\)/,
    );
  });

  it('with create: false, refuses a PostgreSQL database Tessera never opened', {
    skip: PG_URL === '' ? 'TESSERA_TEST_DATABASE_URL is not set' : undefined,
  }, async () => {
    const schema = `fresh_${randomBytes(6).toString('hex')}`;
    const message = await refusal(
      openStore({ database: PG_URL, dataDir: tmpdir(), pgSchema: schema, create: false }),
      'ERR_STORE_NOT_FOUND',
    );
    assert.match(message, /^no Tessera store in the PostgreSQL database \S+@127\.0\.0\.1:\d+\//);
    const store = await openStore({ database: PG_URL, dataDir: tmpdir(), pgSchema: schema });
    try {
      await (
        await openStore({ database: PG_URL, dataDir: tmpdir(), pgSchema: schema, create: false })
      ).close();
    } finally {
      await store.db.schema.dropSchema(schema).cascade().execute();
      await store.close();
    }
  });
});
