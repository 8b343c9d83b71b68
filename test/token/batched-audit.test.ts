import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repositories } from '../../src/store/repositories.js';
import { BatchedIssuedTokenAudit } from '../../src/token/batched-audit.js';
import type { IssuedTokenRecord } from '../../src/token/issued-token-record.js';
import { testDialects } from '../store/dialects.js';

function record(jti: string): IssuedTokenRecord {
  return {
    jti,
    projectId: 1,
    pipelineId: 2,
    jobId: 3,
    aud: ['https://vault.example.com'],
    sub: 'project_path:acme/app:ref_type:branch:ref:main',
    kid: 'kid',
    alg: 'RS256',
    iat: 1_790_000_000,
    exp: 1_790_000_300,
    issuedVia: 'on-demand',
  };
}

for (const dialect of testDialects()) {
  describe(`batched token audit [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('writes the rows of tokens minted together in one statement, each mint waiting for its row', async () => {
      const repos = repositories((await dialect.openStore()).db);
      const batches: number[] = [];
      const audit = new BatchedIssuedTokenAudit(async (records) => {
        batches.push(records.length);
        await repos.issuedTokens.recordIssuedTokens(records);
      });
      const jtis = Array.from({ length: 40 }, (_, index) => `jti-${index}`);
      await Promise.all(
        jtis.map(async (jti) => {
          await audit.recordIssuedToken(record(jti));
          // Settled means stored: the row is there when the mint goes on to answer.
          assert.equal((await repos.issuedTokens.findByJti(jti))?.jti, jti);
        }),
      );
      assert.deepEqual(batches, [40]);
      await audit.recordIssuedToken(record('alone'));
      assert.deepEqual(batches, [40, 1]);
    });

    it('stores each row with its own values when batches of one size reuse the compiled insert', async () => {
      const repos = repositories((await dialect.openStore()).db);
      const distinct = (jti: string, index: number): IssuedTokenRecord => ({
        ...record(jti),
        jobId: 100 + index,
        aud: [`https://aud-${index}.example.com`, 'https://vault.example.com'],
        sub: `project_path:acme/app-${index}:ref_type:branch:ref:main`,
        alg: index % 2 === 0 ? 'RS256' : 'ES256',
        iat: 1_790_000_000 + index,
        exp: 1_790_000_300 + index,
      });
      const first = ['a', 'b', 'c'].map(distinct);
      const second = ['d', 'e', 'f'].map((jti, index) => distinct(jti, index + 3));
      await repos.issuedTokens.recordIssuedTokens(first);
      await repos.issuedTokens.recordIssuedTokens(second);
      await repos.issuedTokens.recordIssuedToken(distinct('g', 6));
      await repos.issuedTokens.recordIssuedToken(distinct('h', 7));
      for (const expected of [...first, ...second, distinct('g', 6), distinct('h', 7)])
        assert.deepEqual(await repos.issuedTokens.findByJti(expected.jti), expected);
    });

    it('fails every mint of a batch whose write fails, storing none of it', async () => {
      const repos = repositories((await dialect.openStore()).db);
      const audit = new BatchedIssuedTokenAudit((records) => repos.issuedTokens.recordIssuedTokens(records));
      await audit.recordIssuedToken(record('taken'));
      const results = await Promise.allSettled([
        audit.recordIssuedToken(record('fresh')),
        audit.recordIssuedToken(record('taken')),
      ]);
      assert.deepEqual(
        results.map((result) => result.status),
        ['rejected', 'rejected'],
      );
      assert.equal(await repos.issuedTokens.findByJti('fresh'), undefined);
    });
  });
}
