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

/** The compiled insert of each handle, by number of rows (a batch of the group commit). */
const inserts = new WeakMap<Db, Map<number, CompiledQuery>>();

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
    await this.recordIssuedTokens([record]);
  }

  /**
   * Several audit rows in one statement (a batch of tokens minted together), its SQL compiled
   * once per handle and number of rows: building it through the query builder for every batch
   * cost more than running it.
   */
  async recordIssuedTokens(records: readonly IssuedTokenRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map(toRow);
    let bySize = inserts.get(this.db);
    if (!bySize) {
      bySize = new Map();
      inserts.set(this.db, bySize);
    }
    let compiled = bySize.get(rows.length);
    if (!compiled) {
      compiled = this.db.insertInto('issuedTokens').values(rows).compile();
      bySize.set(rows.length, compiled);
    }
    await this.db.executeQuery({ ...compiled, parameters: rows.flatMap((row) => Object.values(row)) });
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
