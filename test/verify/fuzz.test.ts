import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ERROR_CATALOG } from '../../src/errors.js';
import { TokenIssuer } from '../../src/token/issue.js';
import { MemoryIssuedTokenRepository } from '../../src/token/memory-issued-token-repository.js';
import { createVerifier, type Verifier } from '../../src/verify/index.js';
import { memoryKeyring } from '../keys/fixtures/memory-keyring.js';
import { jobContext } from '../token/fixtures/job-context.js';

const NOW = Date.UTC(2026, 4, 1);
const ISSUER = 'https://ci.example.com/tessera';

async function rejectsWithVerifyCode(verifier: Verifier, input: string): Promise<void> {
  await assert.rejects(verifier.verify(input), (error: Error & { code?: string }) => {
    assert.ok(
      error.code?.startsWith('ERR_VERIFY_') && Object.hasOwn(ERROR_CATALOG, error.code),
      String(error.code),
    );
    assert.ok(!error.message.includes('\n'), 'one-line message');
    return true;
  });
}

describe('verifier under fuzzing', () => {
  let verifier: Verifier;
  const tokens: string[] = [];

  before(async () => {
    const { keyring } = await memoryKeyring({ clock: () => NOW });
    const issuer = new TokenIssuer({
      issuer: ISSUER,
      keyring,
      audit: new MemoryIssuedTokenRepository(),
      clock: () => NOW,
      maxLifetime: 600,
    });
    for (const alg of ['RS256', 'ES256'] as const) {
      tokens.push(
        (
          await issuer.issue({
            context: jobContext(),
            audience: 'aud',
            lifetime: 600,
            alg,
            issuedVia: 'on-demand',
          })
        ).token,
      );
    }
    const jwks = (await keyring.jwks()).document;
    verifier = createVerifier({
      issuer: ISSUER,
      audience: 'aud',
      clock: () => NOW,
      keySet: async () => jwks,
    });
    for (const token of tokens) await verifier.verify(token);
  });

  it('refuses arbitrary strings with an ERR_VERIFY_* code, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.base64String({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 300 }),
        ),
        async (input) => {
          await rejectsWithVerifyCode(verifier, input);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never accepts a token with any single character changed, inserted or removed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...tokens),
        fc.nat(),
        fc.constantFrom('replace', 'insert', 'delete'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
        async (token, position, operation, character) => {
          const at = position % token.length;
          const mutated =
            operation === 'delete'
              ? token.slice(0, at) + token.slice(at + 1)
              : token.slice(0, at) + character + token.slice(operation === 'insert' ? at : at + 1);
          fc.pre(mutated !== token);
          await rejectsWithVerifyCode(verifier, mutated);
        },
      ),
      { numRuns: 400 },
    );
  });
});
