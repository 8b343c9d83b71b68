import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob, updateJob, variable } from '../coordinator/runner-client.js';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

// Only pipelines started by a trigger or by another pipeline have jobs: the rules prove the source.
const CONFIG = `
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "trigger" || $CI_PIPELINE_SOURCE == "pipeline"
    - if: $CI_PIPELINE_SOURCE == "api"
build:
  script: [echo $GREETING]
  id_tokens:
    ID:
      aud: relying-party
  rules:
    - if: $CI_PIPELINE_SOURCE == "api"
      when: manual
    - when: on_success
`;

for (const dialect of testDialects()) {
  describe(`trigger tokens [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('start a pipeline with source trigger, as the owner, with the variables; wrong tokens start nothing', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const runner = await registerRunner(c);

      const forbidden = await c.api('POST', `/api/v4/projects/${p.projectId}/triggers`, {
        token: p.developer.token,
        body: { description: 'ci' },
      });
      assert.equal(forbidden.status, 403, 'developers cannot create trigger tokens');
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/triggers`, {
        token: p.maintainer.token,
        body: { description: 'from jenkins' },
      });
      assert.equal(created.status, 201, created.text);
      const token: string = created.body.token;
      assert.match(token, /^glptt-[A-Za-z0-9_-]{20,}$/);
      assert.equal(created.body.owner.id, p.maintainer.id);
      const listed = await c.api('GET', `/api/v4/projects/${p.projectId}/triggers`, {
        token: p.maintainer.token,
      });
      assert.equal(listed.body.length, 1);
      assert.equal(listed.body[0].token, token.slice(0, 10), 'afterwards only the first characters');
      assert.ok(!listed.text.includes(token));

      // Form body with variables[KEY]=value, no personal access token.
      const triggered = await c.api('POST', `/api/v4/projects/${p.projectId}/trigger/pipeline`, {
        token: null,
        form: { token, ref: 'main', 'variables[GREETING]': 'hello from a trigger' },
      });
      assert.equal(triggered.status, 201, triggered.text);
      assert.equal(triggered.body.source, 'trigger');
      assert.equal(triggered.body.user.id, p.maintainer.id, 'runs as the trigger owner');
      const job = await requestJob(c, runner);
      assert.ok(job, 'the triggered pipeline has a job');
      assert.equal(variable(job, 'GREETING'), 'hello from a trigger');
      assert.equal(variable(job, 'CI_PIPELINE_SOURCE'), 'trigger');
      assert.equal(variable(job, 'CI_PIPELINE_TRIGGERED'), 'true');
      assert.equal(variable(job, 'GITLAB_USER_LOGIN'), 'maint-app');
      const claims = decodeJwt(variable(job, 'ID') ?? '');
      assert.equal(claims.pipeline_source, 'trigger');
      assert.equal(claims.user_login, 'maint-app');
      assert.equal(claims.user_id, String(p.maintainer.id));

      // CI_JOB_TOKEN of that running job starts a pipeline with source `pipeline` (JSON body).
      const chained = await c.api('POST', `/api/v4/projects/${p.projectId}/trigger/pipeline`, {
        token: null,
        body: { token: job.token, ref: 'main', variables: { GREETING: 'downstream' } },
      });
      assert.equal(chained.status, 201, chained.text);
      assert.equal(chained.body.source, 'pipeline');
      const downstream = await requestJob(c, runner);
      assert.ok(downstream);
      assert.equal(variable(downstream, 'CI_PIPELINE_SOURCE'), 'pipeline');
      assert.equal(variable(downstream, 'GREETING'), 'downstream');
      assert.equal(decodeJwt(variable(downstream, 'ID') ?? '').pipeline_source, 'pipeline');
      await updateJob(c, job, { state: 'success' });

      // A finished job's token, a wrong token, another project's path: nothing starts.
      const before = (await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines`)).body.length;
      for (const wrong of [job.token, `${token}x`, 'glptt-nope', 'tspat-whatever']) {
        const refused = await c.api(
          'POST',
          `/api/v4/projects/${p.projectId}/trigger/pipeline?token=${encodeURIComponent(wrong)}&ref=main`,
          {
            token: null,
          },
        );
        assert.equal(refused.status, 404, refused.text);
        assert.equal(refused.body.error, 'ERR_TRIGGER_TOKEN_INVALID');
        assert.ok(!refused.text.includes(wrong));
      }
      const missing = await c.api('POST', '/api/v4/projects/999999/trigger/pipeline', {
        token: null,
        body: { token, ref: 'main' },
      });
      assert.equal(missing.status, 404);
      assert.equal(
        missing.body.error,
        'ERR_TRIGGER_TOKEN_INVALID',
        'an unknown project answers like a wrong token',
      );
      const bad = await c.api('POST', `/api/v4/projects/${p.projectId}/trigger/pipeline`, {
        token: null,
        body: { token, ref: 'main', variables: ['not', 'an', 'object'] },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'ERR_VALIDATION');
      assert.equal((await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines`)).body.length, before);
      assert.ok(!c.logs().includes(token), 'the trigger token never reaches the log');

      // Query string variables; then the owner's right on a protected branch decides.
      const viaQuery = await c.api(
        'POST',
        `/api/v4/projects/${p.projectId}/trigger/pipeline?token=${token}&ref=main&variables[GREETING]=q`,
        { token: null },
      );
      assert.equal(viaQuery.status, 201, viaQuery.text);
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, {
        body: { name: 'main', push_access_level: 0 },
      });
      const protectedRef = await c.api('POST', `/api/v4/projects/${p.projectId}/trigger/pipeline`, {
        token: null,
        body: { token, ref: 'main' },
      });
      assert.equal(protectedRef.status, 403);
      assert.equal(protectedRef.body.error, 'ERR_REF_PROTECTED');

      const updated = await c.api('PUT', `/api/v4/projects/${p.projectId}/triggers/${created.body.id}`, {
        token: p.maintainer.token,
        body: { description: 'renamed' },
      });
      assert.equal(updated.body.description, 'renamed');
      assert.notEqual(updated.body.last_used, null);
      const deleted = await c.api('DELETE', `/api/v4/projects/${p.projectId}/triggers/${created.body.id}`, {
        token: p.maintainer.token,
      });
      assert.equal(deleted.status, 204);
      const gone = await c.api('POST', `/api/v4/projects/${p.projectId}/trigger/pipeline`, {
        token: null,
        body: { token, ref: 'main' },
      });
      assert.equal(gone.status, 404);
    });
  });
}
