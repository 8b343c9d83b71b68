import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as core from '@actions/core';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import {
  registerRunner,
  requestJob,
  type TestJobPayload,
  updateJob,
  variable,
} from '../coordinator/runner-client.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

const CONFIG = `
stages: [build, deploy]
build:
  stage: build
  script: [echo build]
  id_tokens:
    VAULT_ID_TOKEN:
      aud: https://vault.example.com
    MULTI:
      aud: [$CI_SERVER_URL, sts.amazonaws.com]
      ttl: 120
      alg: ES256
  secrets:
    DB_PASSWORD:
      vault: production/db/password@ops
deploy:
  stage: deploy
  script: [echo deploy]
  environment:
    name: production
  id_tokens:
    DEPLOY:
      aud: deployer
`;

/** Verifies `token` against the coordinator's published keys, found through discovery. */
async function verify(c: TestCoordinator, token: string, audience: string) {
  const issuer = c.server.issuer;
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
    jwks_uri: string;
  };
  const jwks = (await (await fetch(discovery.jwks_uri)).json()) as JSONWebKeySet;
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer,
    audience,
    algorithms: ['RS256', 'ES256'],
  });
  return { payload: payload as JWTPayload & Record<string, unknown>, header: protectedHeader };
}

function tokenOf(job: TestJobPayload, name: string): string {
  const entry = job.variables.find((v) => v.key === name);
  assert.ok(entry, `variable ${name}`);
  assert.equal(entry.masked, true, `${name} is masked`);
  return entry.value;
}

for (const dialect of testDialects()) {
  describe(`ID tokens end to end [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('mints id_tokens at pickup from coordinator records, on demand for @actions/core, with introspection and audit', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect, { issuer: 'http://127.0.0.1:0' });
      // Every audience the YAML's id_tokens name, and two more for on-demand requests.
      const allowed = [
        'https://vault.example.com',
        c.server.coordinator.urls.serverUrl,
        'sts.amazonaws.com',
        'deployer',
        'my-aud',
        'other-ok',
      ];
      const p = await setUpProject(c, repo.path, { body: { ci_id_token_allowed_audiences: allowed } });
      await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        body: { key: 'VAULT_SERVER_URL', value: 'https://vault.example.com' },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        body: { key: 'VAULT_AUTH_ROLE', value: 'ci' },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, {
        body: { name: 'main', push_access_level: 40 },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_environments`, {
        body: { name: 'production', deploy_access_levels: [{ access_level: 40 }] },
      });
      const runnerToken = await registerRunner(c, { description: 'e2e' });
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.maintainer.token,
      });
      assert.equal(pipeline.status, 201, pipeline.text);
      const build = await requestJob(c, runnerToken);
      assert.ok(build);

      const vault = await verify(c, tokenOf(build, 'VAULT_ID_TOKEN'), 'https://vault.example.com');
      assert.deepEqual(Object.keys(vault.header).sort(), ['alg', 'kid', 'typ']);
      assert.equal(vault.header.alg, 'RS256');
      assert.equal(vault.header.typ, 'JWT');
      const claims = vault.payload;
      const host = new URL(c.server.issuer).host;
      assert.equal(claims.iss, c.server.issuer);
      assert.equal(claims.sub, 'project_path:acme/app:ref_type:branch:ref:main');
      assert.equal(claims.aud, 'https://vault.example.com');
      assert.equal(claims.exp! - claims.iat!, 3600, 'lifetime = job timeout');
      assert.equal(claims.nbf, claims.iat! - 5);
      assert.equal(claims.namespace_path, 'acme');
      assert.equal(claims.project_path, 'acme/app');
      assert.equal(claims.project_id, String(p.projectId));
      assert.equal(claims.pipeline_id, String(pipeline.body.id));
      assert.equal(claims.pipeline_source, 'api');
      assert.equal(claims.job_id, String(build.id));
      assert.equal(claims.ref, 'main');
      assert.equal(claims.ref_type, 'branch');
      assert.equal(claims.ref_path, 'refs/heads/main');
      assert.equal(claims.ref_protected, 'true');
      assert.equal(claims.user_login, 'maint-app');
      assert.equal(claims.user_access_level, 'maintainer');
      assert.equal(typeof claims.runner_id, 'number');
      assert.equal(claims.runner_environment, 'self-hosted');
      assert.equal(claims.sha, pipeline.body.sha);
      assert.equal(claims.ci_config_ref_uri, `${host}/acme/app//.gitlab-ci.yml@refs/heads/main`);
      assert.equal(claims.environment, undefined);

      const multi = await verify(c, tokenOf(build, 'MULTI'), 'sts.amazonaws.com');
      assert.equal(multi.header.alg, 'ES256');
      assert.deepEqual(multi.payload.aud, [variable(build, 'CI_SERVER_URL'), 'sts.amazonaws.com']);
      assert.equal(multi.payload.exp! - multi.payload.iat!, 120, 'ttl');

      assert.deepEqual(build.secrets.DB_PASSWORD, {
        vault: {
          server: {
            url: 'https://vault.example.com',
            auth: { name: 'jwt', path: 'jwt', data: { jwt: '$VAULT_ID_TOKEN', role: 'ci' } },
          },
          engine: { name: 'kv-v2', path: 'ops' },
          path: 'production/db',
          field: 'password',
        },
        file: true,
      });

      // On demand, through GitHub's toolkit, unchanged.
      process.env.ACTIONS_ID_TOKEN_REQUEST_URL = variable(build, 'ACTIONS_ID_TOKEN_REQUEST_URL');
      process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = variable(build, 'ACTIONS_ID_TOKEN_REQUEST_TOKEN');
      const writes: string[] = [];
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = ((chunk: string) => {
        writes.push(String(chunk));
        return true;
      }) as typeof process.stdout.write;
      let fromToolkit: string;
      try {
        fromToolkit = await core.getIDToken('my-aud');
      } finally {
        process.stdout.write = write;
      }
      const onDemand = await verify(c, fromToolkit, 'my-aud');
      assert.equal(onDemand.payload.exp! - onDemand.payload.iat!, 300, 'default on-demand lifetime');
      assert.equal(onDemand.payload.job_id, String(build.id));
      const requestUrl = variable(build, 'TESSERA_ID_TOKEN_REQUEST_URL')!;
      const requestToken = variable(build, 'TESSERA_ID_TOKEN_REQUEST_TOKEN')!;
      const demand = (query: string, token = requestToken) =>
        fetch(`${requestUrl}&${query}`, { headers: { authorization: `Bearer ${token}` } });
      const es = await demand('audience=other-ok&lifetime=60&alg=ES256');
      assert.equal(es.status, 200);
      // The token answer carries the headers every secret-bearing answer has.
      assert.equal(es.headers.get('content-type'), 'application/json');
      assert.equal(es.headers.get('cache-control'), 'no-store');
      assert.equal(es.headers.get('x-content-type-options'), 'nosniff');
      const esToken = ((await es.json()) as { value: string }).value;
      assert.equal(decodeProtectedHeader(esToken).alg, 'ES256');
      const esClaims = await verify(c, esToken, 'other-ok');
      assert.equal(esClaims.payload.exp! - esClaims.payload.iat!, 60);
      const notAllowed = await demand('audience=https://elsewhere');
      assert.equal(notAllowed.status, 403);
      assert.equal(
        ((await notAllowed.json()) as { error: string }).error,
        'ERR_ID_TOKEN_AUDIENCE_NOT_ALLOWED',
      );
      // The cap that applies is named, not the schema's outer bound.
      const tooLong = await demand('audience=my-aud&lifetime=99999');
      assert.equal(tooLong.status, 400);
      assert.deepEqual(await tooLong.json(), {
        error: 'ERR_TOKEN_LIFETIME_INVALID',
        message:
          "lifetime 99999 is too long: this job's tokens may live at most 7200 seconds (the instance's tokenMaxLifetime, TESSERA_TOKEN_MAX_LIFETIME)",
        details: { max: 7200 },
      });
      assert.equal((await demand('audience=my-aud', 'tsidr-wrong')).status, 401);
      assert.equal((await demand('lifetime=60')).status, 400, 'audience is required');

      // A relying party's credential: a personal access token with read_api (RFC 7662 §2.1).
      const rp = await c.api('POST', '/api/v4/users', {
        body: { username: 'relying-party', email: 'rp@example.com', name: 'RP' },
      });
      const introspector: string = (
        await c.api('POST', `/api/v4/users/${rp.body.id}/personal_access_tokens`, {
          body: { name: 'introspection', scopes: ['read_api'] },
        })
      ).body.token;
      const introspect = (token: string) =>
        c.api('POST', new URL(`${c.server.issuer}/oauth/introspect`).pathname, {
          token: introspector,
          form: { token },
        });
      const active = await introspect(fromToolkit);
      assert.equal(active.body.active, true);
      assert.equal(active.body.job_id, String(build.id));
      assert.deepEqual((await introspect('not.a.token')).body, { active: false });

      assert.deepEqual((await updateJob(c, build, { state: 'success', exit_code: 0 })).body, {
        status: 'success',
      });
      assert.deepEqual(
        (await introspect(fromToolkit)).body,
        { active: false },
        'inactive once the job finished',
      );
      const afterEnd = await demand('audience=my-aud');
      assert.equal(afterEnd.status, 401);
      assert.equal(((await afterEnd.json()) as { error: string }).error, 'ERR_ID_TOKEN_REQUEST_INVALID');

      const deploy = await requestJob(c, runnerToken);
      assert.equal(deploy?.job_info.name, 'deploy');
      const deployClaims = (await verify(c, tokenOf(deploy!, 'DEPLOY'), 'deployer')).payload;
      assert.equal(deployClaims.environment, 'production');
      assert.equal(deployClaims.environment_protected, 'true');
      assert.equal(deployClaims.deployment_tier, 'production');
      assert.equal(deployClaims.environment_action, 'start');

      const audit = await c.api('GET', `/api/v4/projects/${p.projectId}/id_tokens`, {
        token: p.maintainer.token,
      });
      assert.equal(audit.status, 200);
      const vias = audit.body.map((entry: { issued_via: string }) => entry.issued_via);
      assert.equal(vias.filter((via: string) => via === 'pre-issued').length, 3);
      assert.equal(vias.filter((via: string) => via === 'on-demand').length, 2);
      assert.ok(audit.body.some((entry: { jti: string }) => entry.jti === claims.jti));
      assert.ok(!audit.text.includes(fromToolkit) && !audit.text.includes(tokenOf(build, 'VAULT_ID_TOKEN')));
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${p.projectId}/id_tokens`, { token: p.developer.token }))
          .status,
        403,
      );
      for (const secret of [
        fromToolkit,
        esToken,
        requestToken,
        tokenOf(build, 'VAULT_ID_TOKEN'),
        build.token,
      ]) {
        assert.ok(!c.logs().includes(secret), 'no token in the coordinator log');
      }
      assert.ok(writes.join('').includes('::add-mask::'), 'the toolkit masked the token it got');
    });

    it('applies the allowed audiences to id_tokens at pickup (and so to secrets), failing the job with the audience named', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
listed:
  script: [x]
  id_tokens:
    OK:
      aud: https://vault.example.com
one_of_two:
  script: [x]
  id_tokens:
    FIRST:
      aud: https://vault.example.com
    BOTH:
      aud: [https://vault.example.com, $UNLISTED_AUDIENCE]
  secrets:
    DB_PASSWORD:
      vault: production/db/password@ops
      token: $FIRST
`,
      });
      const c = await startTestCoordinator(dialect, { issuer: 'http://127.0.0.1:0' });
      const p = await setUpProject(c, repo.path, {
        body: { ci_id_token_allowed_audiences: ['https://vault.example.com'] },
      });
      for (const [key, value] of [
        ['VAULT_SERVER_URL', 'https://vault.example.com'],
        ['UNLISTED_AUDIENCE', 'sts.amazonaws.com'],
      ]) {
        await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, { body: { key, value } });
      }
      const runnerToken = await registerRunner(c);
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(pipeline.status, 201, pipeline.text);
      const handedOut = await requestJob(c, runnerToken);
      assert.equal(handedOut?.job_info.name, 'listed', 'only the job whose audiences are all listed');
      await verify(c, tokenOf(handedOut!, 'OK'), 'https://vault.example.com');
      assert.equal(await requestJob(c, runnerToken), null);
      const jobs = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${pipeline.body.id}/jobs`);
      const refused = jobs.body.find((job: { name: string }) => job.name === 'one_of_two');
      assert.equal(refused.status, 'failed');
      assert.equal(refused.failure_reason, 'unmet_prerequisites');
      const log = await c.api('GET', `/api/v4/projects/${p.projectId}/jobs/${refused.id}/trace`);
      assert.match(
        log.text,
        /^ERROR: Job failed before it started: id_tokens\.BOTH: the project does not allow tokens for audience "sts\.amazonaws\.com" \(ci_id_token_allowed_audiences\)/,
      );
      const audit = await c.api('GET', `/api/v4/projects/${p.projectId}/id_tokens`, {
        token: p.maintainer.token,
      });
      assert.deepEqual(
        audit.body.map((entry: { job_id: number }) => entry.job_id),
        [handedOut!.id],
        'no token minted for the refused job, not even its listed one',
      );
    });

    it('expands environment names at pipeline creation, for the protection check, the variables and the claims', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
variables:
  TARGET: production
deploy:
  script: [x]
  variables:
    DEPLOY_ENV: $TARGET
  environment: $DEPLOY_ENV
  id_tokens:
    T:
      aud: deployer
review:
  script: [x]
  environment:
    name: review/$CI_COMMIT_REF_SLUG
  id_tokens:
    T:
      aud: deployer
`,
      });
      repo.git('checkout', '--quiet', '-b', 'unset');
      await repo.commit({ '.gitlab-ci.yml': 'deploy:\n  script: [x]\n  environment: $UNSET_VARIABLE\n' });
      repo.git('checkout', '--quiet', 'main');
      const c = await startTestCoordinator(dialect, { issuer: 'http://127.0.0.1:0' });
      const p = await setUpProject(c, repo.path);
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_environments`, {
        body: { name: 'production', deploy_access_levels: [{ access_level: 40 }] },
      });
      const byDeveloper = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(byDeveloper.status, 403, 'the expanded name is the protected one');
      assert.equal(byDeveloper.body.error, 'ERR_ENVIRONMENT_PROTECTED');
      assert.match(byDeveloper.body.message, /job "deploy": environment "production" is protected/);
      const unset = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=unset`, {
        token: p.maintainer.token,
      });
      assert.equal(unset.status, 400);
      assert.equal(unset.body.details.errors[0].path, 'jobs.deploy.environment');
      assert.match(unset.body.message, /"\$UNSET_VARIABLE" expands to "", which is not an environment name/);

      const runnerToken = await registerRunner(c);
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.maintainer.token,
      });
      assert.equal(pipeline.status, 201, pipeline.text);
      const jobs = [await requestJob(c, runnerToken), await requestJob(c, runnerToken)];
      const byName = Object.fromEntries(jobs.map((job) => [job!.job_info.name, job!]));
      const deploy = byName.deploy!;
      assert.equal(variable(deploy, 'CI_ENVIRONMENT_NAME'), 'production');
      const deployClaims = (await verify(c, tokenOf(deploy, 'T'), 'deployer')).payload;
      assert.equal(deployClaims.environment, 'production');
      assert.equal(deployClaims.environment_protected, 'true');
      assert.equal(deployClaims.deployment_tier, 'production');
      const review = byName.review!;
      assert.equal(variable(review, 'CI_ENVIRONMENT_NAME'), 'review/main');
      const reviewClaims = (await verify(c, tokenOf(review, 'T'), 'deployer')).payload;
      assert.equal(reviewClaims.environment, 'review/main');
      assert.equal(reviewClaims.environment_protected, 'false');
      assert.equal(reviewClaims.deployment_tier, 'development');
      const environments = await c.api('GET', `/api/v4/projects/${p.projectId}/environments`);
      assert.deepEqual(environments.body.map((environment: { name: string }) => environment.name).sort(), [
        'production',
        'review/main',
      ]);
    });

    it('builds sub from the project components and refuses a burned path until the project switches to project_id', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'job:\n  script: [x]\n  id_tokens:\n    T:\n      aud: a\n',
      });
      const c = await startTestCoordinator(dialect, { issuer: 'http://127.0.0.1:0' });
      const old = await setUpProject(c, repo.path, { path: 'app' });
      // The first project moves away; a new project takes its old path.
      assert.equal(
        (await c.api('PUT', `/api/v4/projects/${old.projectId}`, { body: { path: 'moved' } })).status,
        200,
      );
      const reused = await c.api('POST', '/api/v4/projects', {
        body: { name: 'app', path: 'app', namespace_id: old.groupId, repository_url: repo.path },
      });
      assert.equal(reused.status, 201);
      const runnerToken = await registerRunner(c);
      const first = await c.api('POST', `/api/v4/projects/${reused.body.id}/pipeline?ref=main`, {
        token: old.maintainer.token,
      });
      assert.equal(first.status, 201, first.text);
      assert.equal(await requestJob(c, runnerToken), null, 'the job is refused, not handed out');
      const jobs = await c.api('GET', `/api/v4/projects/${reused.body.id}/pipelines/${first.body.id}/jobs`);
      assert.equal(jobs.body[0].status, 'failed');
      assert.equal(jobs.body[0].failure_reason, 'id_token_burned_project_path');
      const trace = await c.api('GET', `/api/v4/projects/${reused.body.id}/jobs/${jobs.body[0].id}/trace`);
      assert.match(trace.text, /project_id/);

      await c.api('PUT', `/api/v4/projects/${reused.body.id}`, {
        body: { ci_id_token_sub_claim_components: ['project_id', 'ref_type', 'ref_protected'] },
      });
      await c.api('POST', `/api/v4/projects/${reused.body.id}/pipeline?ref=main`, {
        token: old.maintainer.token,
      });
      const job = await requestJob(c, runnerToken);
      assert.ok(job);
      const claims = (await verify(c, tokenOf(job, 'T'), 'a')).payload;
      assert.equal(claims.sub, `project_id:${reused.body.id}:ref_type:branch:ref_protected:false`);
      // The moved project keeps working under its new path.
      await c.api('POST', `/api/v4/projects/${old.projectId}/pipeline?ref=main`, {
        token: old.maintainer.token,
      });
      const moved = await requestJob(c, runnerToken);
      assert.equal(
        (await verify(c, tokenOf(moved!, 'T'), 'a')).payload.sub,
        'project_path:acme/moved:ref_type:branch:ref:main',
      );
    });
  });
}
