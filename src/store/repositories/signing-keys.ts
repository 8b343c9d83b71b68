import { type Kysely, type Selectable, SqliteAdapter, sql } from 'kysely';
import type { SigningAlgorithm } from '../../keys/algorithms.js';
import type {
  KeyState,
  PublicSigningJwk,
  SigningKeyChanges,
  SigningKeyRecord,
  SigningKeyRepository,
} from '../../keys/signing-key-record.js';
import { type Db, immediateTransaction } from '../open-store.js';
import type { Database, SigningKeysTable } from '../schema.js';

/** PostgreSQL advisory lock key of signing-key changes (an arbitrary constant, "tessera-keys"). */
const SIGNING_KEYS_LOCK = 0x7e55e4a;

function toRecord(row: Selectable<SigningKeysTable>): SigningKeyRecord {
  return {
    ...row,
    alg: row.alg as SigningAlgorithm,
    state: row.state as KeyState,
    publicJwk: JSON.parse(row.publicJwk) as PublicSigningJwk,
  };
}

/** {@link SigningKeyRepository} over the store (SQLite or PostgreSQL). */
export class SqlSigningKeyRepository implements SigningKeyRepository {
  constructor(
    private readonly db: Db,
    private readonly inTransaction = false,
  ) {}

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.db
      .selectFrom('signingKeys')
      .selectAll()
      .orderBy('createdAt')
      .orderBy('kid')
      .execute();
    return rows.map(toRecord);
  }

  async insertSigningKey(record: SigningKeyRecord): Promise<void> {
    await this.db
      .insertInto('signingKeys')
      .values({ ...record, publicJwk: JSON.stringify(record.publicJwk) })
      .execute();
  }

  async updateSigningKey(kid: string, changes: SigningKeyChanges): Promise<void> {
    const result = await this.db
      .updateTable('signingKeys')
      .set(changes)
      .where('kid', '=', kid)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new TypeError(`signing key ${kid} does not exist`);
  }

  async transaction<T>(fn: (repository: SigningKeyRepository) => Promise<T>): Promise<T> {
    if (this.inTransaction || this.db.isTransaction) return fn(this);
    const db = this.db as Kysely<Database>;
    // On SQLite a write transaction from the start, so a `tessera keys` process and a running
    // coordinator on the same file wait for each other instead of failing.
    if (db.getExecutor().adapter instanceof SqliteAdapter) {
      return immediateTransaction(db, (tx) => fn(new SqlSigningKeyRepository(tx, true)));
    }
    return db.transaction().execute(async (tx) => {
      // Serialises key changes across coordinator nodes sharing one database, so two nodes doing a
      // first start or a rotation at the same moment cannot both create keys. Released at commit.
      await sql`SELECT pg_advisory_xact_lock(${SIGNING_KEYS_LOCK})`.execute(tx);
      return fn(new SqlSigningKeyRepository(tx, true));
    });
  }
}
