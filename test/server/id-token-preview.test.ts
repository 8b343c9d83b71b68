import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeToken } from '../../src/verify/decode-token.js';
import { variable } from '../coordinator/runner-client.js';
import { testDialects } from '../store/dialects.js';
import { setUpWebProject, startPipeline } from '../web/browser-fixture.js';
import { startTestCoordinator } from './harness.js';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

/** Runs the real `tessera` command line; answers its exit status and output. */
function tessera(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const PLACEHOLDERS = ['jti', 'iat', 'nbf', 'exp', 'pipeline_id', 'job_id', 'runner_id'];

for (const dialect of testDialects()) {
  describe(`claim preview API [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('previews the claims a real token then carries, and checks a Vault role claim by claim', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const path = `/api/v4/projects/${fixture.projectId}/id_tokens/preview`;
      const asDeveloper = { token: fixture.developer.token };
      const preview = await c.api('GET', `${path}?ref=main&job=build&source=api`, asDeveloper);
      assert.equal(preview.status, 200, preview.text);
      assert.equal(preview.body.job, 'build');
      assert.deepEqual(preview.body.placeholders, PLACEHOLDERS);
      assert.equal(preview.body.tokens.length, 1);
      assert.equal(preview.body.tokens[0].name, 'VAULT_ID_TOKEN');
      assert.equal(preview.body.tokens[0].refusal, null);
      const previewed = preview.body.tokens[0].claims;

      // The real token of the real job (the pipeline is created through the API: source "api").
      const { job } = await startPipeline(c, fixture);
      const real = decodeToken(variable(job, 'VAULT_ID_TOKEN')!).payload as Record<string, unknown>;
      assert.deepEqual(Object.keys(previewed).sort(), Object.keys(real).sort());
      for (const name of Object.keys(real)) {
        if (PLACEHOLDERS.includes(name)) continue;
        assert.deepEqual(previewed[name], real[name], name);
      }
      assert.equal(
        previewed.exp - previewed.iat,
        (real.exp as number) - (real.iat as number),
        'same lifetime',
      );
      const issued = await c.api('GET', `/api/v4/projects/${fixture.projectId}/id_tokens`);
      assert.equal(issued.body.length, 1, 'the preview minted nothing');

      const matching = {
        bound_audiences: ['https://vault.example.com'],
        bound_claims: { project_path: 'acme/*', ref: 'main' },
        bound_claims_type: 'glob',
        user_claim: 'user_login',
      };
      const accepted = await c.api('POST', path, {
        ...asDeveloper,
        body: { ref: 'main', job: 'build', role: { data: matching } },
      });
      assert.equal(accepted.status, 200, accepted.text);
      assert.equal(accepted.body.tokens[0].vault_role.accepted, true);
      const refused = await c.api('POST', path, {
        ...asDeveloper,
        body: {
          ref: 'main',
          job: 'build',
          role: JSON.stringify({ ...matching, bound_claims: { ref: 'production' } }),
        },
      });
      assert.equal(refused.body.tokens[0].vault_role.accepted, false);
      const failed = refused.body.tokens[0].vault_role.checks.filter((check: { ok: boolean }) => !check.ok);
      assert.deepEqual(
        failed.map((check: { claim: string; reason: string }) => [check.claim, check.reason]),
        [['ref', 'bound claim "ref" is "main" in the token, which does not match "production" (glob)']],
      );

      // A pasted job definition instead of the repository's, with an audience given by hand.
      const pasted = await c.api('POST', path, {
        ...asDeveloper,
        body: {
          ref: 'main',
          aud: 'sts.amazonaws.com',
          job_definition: 'deploy:\n  script: [x]\n  environment: production\n',
        },
      });
      assert.equal(pasted.status, 200, pasted.text);
      assert.equal(pasted.body.tokens[0].claims.aud, 'sts.amazonaws.com');
      assert.equal(pasted.body.tokens[0].claims.environment, 'production');
      assert.equal(pasted.body.tokens[0].claims.deployment_tier, 'production');

      const unknownJob = await c.api('GET', `${path}?ref=main&job=nope`, asDeveloper);
      assert.equal(unknownJob.status, 400);
      assert.match(unknownJob.body.message, /no job "nope" runs for main \(jobs: build, test\)/);
      const badRole = await c.api('POST', path, {
        ...asDeveloper,
        body: { ref: 'main', job: 'build', role: 'nope' },
      });
      assert.equal(badRole.status, 400);
      assert.match(badRole.body.message, /Vault role: is not JSON/);
      const outsider = await c.api('GET', `${path}?ref=main&job=build`, { token: null });
      assert.equal(outsider.status, 401);

      // The command line: the same answer, and exit status 1 when the role refuses.
      const dir = await mkdtemp(join(tmpdir(), 'tessera-preview-'));
      after(() => rm(dir, { recursive: true, force: true }));
      await writeFile(join(dir, 'good.json'), JSON.stringify({ data: matching }));
      await writeFile(
        join(dir, 'bad.json'),
        JSON.stringify({ ...matching, bound_claims: { ref: 'production' } }),
      );
      const args = [
        'token',
        'preview',
        '--server',
        c.url,
        '--project',
        'acme/app',
        '--ref',
        'main',
        '--job',
        'build',
      ];
      const env = { TESSERA_PRIVATE_TOKEN: fixture.developer.token };
      const good = await tessera([...args, '--vault-role', join(dir, 'good.json')], env);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /^ {2}project_path +acme\/app$/m);
      assert.match(good.stdout, /Vault role: ACCEPTS this token/);
      const bad = await tessera([...args, '--vault-role', join(dir, 'bad.json')], env);
      assert.equal(bad.code, 1);
      assert.match(
        bad.stdout,
        /FAIL bound_claims \(glob\) ref: bound claim "ref" is "main" in the token, which does not match "production" \(glob\) \(token: main; role: production\)/,
      );
      const noToken = await tessera(args, { TESSERA_PRIVATE_TOKEN: '' });
      assert.notEqual(noToken.code, 0);
      assert.match(noToken.stderr, /TESSERA_PRIVATE_TOKEN/);
    });
  });
}
