import type { Selectable } from 'kysely';
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

/** {@link IssuedTokenRepository} over the store: the audit of every ID token (never the token). */
export class SqlIssuedTokenRepository implements IssuedTokenRepository {
  constructor(private readonly db: Db) {}

  async recordIssuedToken(record: IssuedTokenRecord): Promise<void> {
    await this.db
      .insertInto('issuedTokens')
      .values({ ...record, aud: JSON.stringify(record.aud) })
      .execute();
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
