// Vault is not installable on the machines that run these tests, so the runner's Vault client is
// tested against a stand-in (./vault-stand-in.ts) that answers the two documented Vault endpoints
// the runner calls, with Vault's shapes and status codes, and verifies the login JWT with
// Tessera's verifier library (src/verify), as Vault's JWT auth would.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { isTesseraError } from '../../src/errors.js';
import type { JobVariable } from '../../src/runner/job-variable.js';
import { resolveVaultSecrets, type VaultSecretConfig } from '../../src/runner/vault-secrets.js';
import { startVaultStandIn, type VaultStandIn } from './vault-stand-in.js';

const issuer = 'http://127.0.0.1:9/tessera';
let vault: VaultStandIn;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let publicJwk: JWK;

async function idToken(claims: Record<string, unknown>, audience = 'https://vault.test'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

function secret(
  path: string,
  field: string,
  extra: Partial<VaultSecretConfig['vault']> = {},
  file?: boolean,
) {
  const config: VaultSecretConfig = {
    vault: {
      server: {
        url: '$VAULT_SERVER_URL',
        auth: { name: 'jwt', path: 'jwt', data: { jwt: '$VAULT_ID_TOKEN', role: 'ci' } },
      },
      engine: { name: 'kv-v2', path: 'secret' },
      path,
      field,
      ...extra,
    },
    ...(file === undefined ? {} : { file }),
  };
  return config;
}

async function variables(claims: Record<string, unknown> = { project_path: 'acme/app' }, audience?: string) {
  const list: JobVariable[] = [
    { key: 'VAULT_SERVER_URL', value: vault.url },
    { key: 'VAULT_ID_TOKEN', value: await idToken(claims, audience), masked: true },
  ];
  return list;
}

async function refusalCode(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isTesseraError(error), `expected a TesseraError, got ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('expected a refusal');
}

before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  vault = await startVaultStandIn({
    jwks: { keys: [publicJwk] },
    issuer,
    roles: { ci: { boundAudiences: ['https://vault.test'], boundClaims: { project_path: 'acme/app' } } },
    kv2: { secret: { 'ci/db': { password: 'kv2-db-password', port: 5432 } } },
    kv1: { legacy: { 'ci/api': { key: 'kv1-api-key' } } },
  });
});
after(() => vault.close());

describe('resolveVaultSecrets (against a Vault stand-in)', () => {
  it('logs in with the ID token and reads KV v2 into a masked file variable by default', async () => {
    const before = vault.logins.length;
    const result = await resolveVaultSecrets({
      secrets: { DB_PASSWORD: secret('ci/db', 'password'), DB_PORT: secret('ci/db', 'port', {}, false) },
      variables: await variables(),
    });
    assert.deepEqual(result, [
      { key: 'DB_PASSWORD', value: 'kv2-db-password', masked: true, public: false, file: true },
      { key: 'DB_PORT', value: '5432', masked: true, public: false, file: false },
    ]);
    assert.equal(vault.logins.length, before + 1, 'one login for both secrets of the same role');
    assert.equal(vault.logins.at(-1)?.project_path, 'acme/app');
  });

  it('reads KV v1 (and generic) from <engine>/<path>', async () => {
    const result = await resolveVaultSecrets({
      secrets: { API_KEY: secret('ci/api', 'key', { engine: { name: 'kv-v1', path: 'legacy' } }, false) },
      variables: await variables(),
    });
    assert.equal(result[0]?.value, 'kv1-api-key');
  });

  it('fails clearly for a missing path or field, without the token in the message', async () => {
    const vars = await variables();
    const missingPath = await refusalCode(
      resolveVaultSecrets({ secrets: { X: secret('ci/nope', 'password') }, variables: vars }),
    );
    assert.equal(missingPath.code, 'ERR_RUNNER_SECRET_NOT_FOUND');
    assert.match(missingPath.message, /secret\/data\/ci\/nope does not exist/);
    const missingField = await refusalCode(
      resolveVaultSecrets({ secrets: { X: secret('ci/db', 'user') }, variables: vars }),
    );
    assert.equal(missingField.code, 'ERR_RUNNER_SECRET_NOT_FOUND');
    assert.match(missingField.message, /field user/);
    const jwt = vars[1]?.value ?? '';
    assert.ok(!missingPath.message.includes(jwt) && !missingField.message.includes(jwt));
  });

  it("reports Vault refusing the login (wrong audience, unbound claim) with Vault's reason", async () => {
    const wrongAudience = await refusalCode(
      resolveVaultSecrets({
        secrets: { X: secret('ci/db', 'password') },
        variables: await variables(undefined, 'https://other.test'),
      }),
    );
    assert.equal(wrongAudience.code, 'ERR_RUNNER_SECRET_REFUSED');
    assert.match(wrongAudience.message, /HTTP 400.*aud/);
    const wrongProject = await refusalCode(
      resolveVaultSecrets({
        secrets: { X: secret('ci/db', 'password') },
        variables: await variables({ project_path: 'evil/app' }),
      }),
    );
    assert.equal(wrongProject.code, 'ERR_RUNNER_SECRET_REFUSED');
    assert.match(wrongProject.message, /bound claim/);
  });

  it('refuses a configuration without a server URL or ID token, and an unreachable Vault', async () => {
    const noUrl = await refusalCode(
      resolveVaultSecrets({
        secrets: { X: secret('ci/db', 'password') },
        variables: [{ key: 'VAULT_ID_TOKEN', value: 'x' }],
      }),
    );
    assert.equal(noUrl.code, 'ERR_RUNNER_SECRET_CONFIG_INVALID');
    const noToken = await refusalCode(
      resolveVaultSecrets({
        secrets: { X: secret('ci/db', 'password') },
        variables: [{ key: 'VAULT_SERVER_URL', value: vault.url }],
      }),
    );
    assert.equal(noToken.code, 'ERR_RUNNER_SECRET_CONFIG_INVALID');
    assert.match(noToken.message, /\$VAULT_ID_TOKEN/);
    const down = await refusalCode(
      resolveVaultSecrets({
        secrets: { X: secret('ci/db', 'password') },
        variables: [
          { key: 'VAULT_SERVER_URL', value: 'http://127.0.0.1:1' },
          { key: 'VAULT_ID_TOKEN', value: 'x.y.z' },
        ],
      }),
    );
    assert.equal(down.code, 'ERR_RUNNER_SECRET_UNAVAILABLE');
  });
});
