import type { CompiledQuery, Selectable } from 'kysely';
import type { IssuedTokenRecord, IssuedTokenRepository } from '../../token/issued-token-record.js';
import type { Db } from '../open-store.js';
import type { IssuedTokensTable } from '../schema.js';

function toRecord(row: Selectable<IssuedTokensTable>): IssuedTokenRecord {
  return {
    ...row,
    aud: JSON.parse(row.aud) as string[],
    alg: row.alg as IssuedTokenRecord['alg'],
    issuedVia: row.issuedVia as IssuedTokenRecord['issuedVia'],
  };
}

const inserts = new WeakMap<Db, CompiledQuery>();

/** The row of a record, its columns always in the same order (the compiled insert relies on it). */
function toRow(record: IssuedTokenRecord): IssuedTokensTable {
  return {
    jti: record.jti,
    projectId: record.projectId,
    pipelineId: record.pipelineId,
    jobId: record.jobId,
    aud: JSON.stringify(record.aud),
    sub: record.sub,
    kid: record.kid,
    alg: record.alg,
    iat: record.iat,
    exp: record.exp,
    issuedVia: record.issuedVia,
  };
}

/** {@link IssuedTokenRepository} over the store: the audit of every ID token (never the token). */
export class SqlIssuedTokenRepository implements IssuedTokenRepository {
  constructor(private readonly db: Db) {}

  /** One insert per minted token; compiled once per handle (the minting hot path). */
  async recordIssuedToken(record: IssuedTokenRecord): Promise<void> {
    const row = toRow(record);
    let compiled = inserts.get(this.db);
    if (!compiled) {
      compiled = this.db.insertInto('issuedTokens').values(row).compile();
      inserts.set(this.db, compiled);
    }
    await this.db.executeQuery({ ...compiled, parameters: Object.values(row) });
  }

  /** Several audit rows in one statement (a batch of tokens minted together). */
  async recordIssuedTokens(records: readonly IssuedTokenRecord[]): Promise<void> {
    if (records.length === 1) return this.recordIssuedToken(records[0]!);
    if (records.length === 0) return;
    await this.db.insertInto('issuedTokens').values(records.map(toRow)).execute();
  }

  /** The project's issued tokens, newest first. */
  async listByProject(projectId: number, limit = 100): Promise<IssuedTokenRecord[]> {
    const rows = await this.db
      .selectFrom('issuedTokens')
      .selectAll()
      .where('projectId', '=', projectId)
      .orderBy('iat', 'desc')
      .orderBy('jti')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  async findByJti(jti: string): Promise<IssuedTokenRecord | undefined> {
    const row = await this.db
      .selectFrom('issuedTokens')
      .selectAll()
      .where('jti', '=', jti)
      .executeTakeFirst();
    return row && toRecord(row);
  }
}
