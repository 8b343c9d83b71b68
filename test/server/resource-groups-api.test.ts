// GitLab's `GET /projects/:id/resource_groups/:key/upcoming_jobs` on both dialects, through real
// HTTP and @gitbeaker/rest: the jobs waiting for a group in its process mode's order, GitLab's
// pagination headers, 403 for a reporter, 404 for an unknown key and for a project the caller
// cannot see.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gitlab } from '@gitbeaker/rest';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob } from '../coordinator/runner-client.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator, type TestCoordinator } from './harness.js';

// `build` only when SLOW=1: its pipeline's deploy stays `created` (not yet queued) behind it.
const CI_CONFIG = [
  'stages: [build, deploy]',
  'build:',
  '  stage: build',
  '  rules: [{if: $SLOW == "1"}]',
  '  script: [x]',
  'deploy:',
  '  stage: deploy',
  '  resource_group: production',
  '  script: [x]',
  '',
].join('\n');

async function userWithToken(c: TestCoordinator, username: string) {
  const user = await c.api('POST', '/api/v4/users', {
    body: { username, email: `${username}@example.com`, name: username },
  });
  const token = await c.api('POST', `/api/v4/users/${user.body.id}/personal_access_tokens`, {
    body: { name: 't', scopes: ['api'] },
  });
  return { id: user.body.id as number, token: token.body.token as string };
}

for (const dialect of testDialects()) {
  describe(`resource groups API: upcoming jobs [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('lists the waiting jobs in process-mode order, paginated, for developers only', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CI_CONFIG });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const runner = await registerRunner(c);
      const project = `/api/v4/projects/${p.projectId}`;
      const start = async (variables: Array<{ key: string; value: string }> = []) => {
        const created = await c.api('POST', `${project}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main', variables },
        });
        assert.equal(created.status, 201, created.text);
        const jobs = await c.api('GET', `${project}/pipelines/${created.body.id}/jobs`, {
          token: p.developer.token,
        });
        return {
          pipelineId: created.body.id as number,
          deployId: jobs.body.find((job: { name: string }) => job.name === 'deploy').id as number,
        };
      };
      const mode = async (processMode: string) => {
        const put = await c.api('PUT', `${project}/resource_groups/production`, {
          token: p.maintainer.token,
          body: { process_mode: processMode },
        });
        assert.equal(put.status, 200, put.text);
      };
      const upcoming = (query = '', token = p.developer.token) =>
        c.api('GET', `${project}/resource_groups/production/upcoming_jobs${query}`, { token });
      const ids = (answer: { body: Array<{ id: number }> }) => answer.body.map((job) => job.id);

      const first = await start();
      const second = await start();
      const third = await start();
      await mode('oldest_first');
      const running = await requestJob(c, runner);
      assert.equal(running?.id, first.deployId, 'the oldest pipeline deploys');
      assert.equal(await requestJob(c, runner), null, 'the others wait for the group');
      // Not yet queued: its deploy waits for its build, which no runner takes in this test.
      const slow = await start([{ key: 'SLOW', value: '1' }]);

      const oldest = await upcoming();
      assert.equal(oldest.status, 200, oldest.text);
      assert.deepEqual(ids(oldest), [second.deployId, third.deployId, slow.deployId]);
      assert.deepEqual(
        oldest.body.map((job: { status: string }) => job.status),
        ['pending', 'pending', 'created'],
      );
      const job = oldest.body[0];
      assert.deepEqual(
        Object.keys(job).sort(),
        [
          'allow_failure',
          'coverage',
          'created_at',
          'duration',
          'finished_at',
          'id',
          'name',
          'pipeline',
          'ref',
          'stage',
          'started_at',
          'status',
          'tag',
          'user',
          'web_url',
        ],
        'GitLab JobBasic fields',
      );
      assert.equal(job.name, 'deploy');
      assert.equal(job.stage, 'deploy');
      assert.equal(job.ref, 'main');
      assert.equal(job.tag, false);
      assert.equal(job.pipeline.id, second.pipelineId);
      assert.equal(job.user.id, p.developer.id);
      assert.match(job.web_url, new RegExp(`/acme/app/-/jobs/${second.deployId}$`));
      assert.equal(oldest.headers.get('x-total'), '3');
      assert.equal(oldest.headers.get('x-page'), '1');

      await mode('newest_first');
      assert.deepEqual(ids(await upcoming()), [slow.deployId, third.deployId, second.deployId]);
      // GitLab's unordered mode lists only the jobs waiting for the group, not those not yet queued.
      await mode('unordered');
      assert.deepEqual(ids(await upcoming()), [second.deployId, third.deployId]);

      await mode('oldest_first');
      const page = await upcoming('?per_page=1&page=2');
      assert.equal(page.status, 200, page.text);
      assert.deepEqual(ids(page), [third.deployId]);
      assert.equal(page.headers.get('x-page'), '2');
      assert.equal(page.headers.get('x-per-page'), '1');
      assert.equal(page.headers.get('x-total'), '3');
      assert.equal(page.headers.get('x-total-pages'), '3');
      assert.equal(page.headers.get('x-next-page'), '3');
      assert.equal(page.headers.get('x-prev-page'), '1');
      assert.match(page.headers.get('link') ?? '', /upcoming_jobs\?per_page=1&page=3>; rel="next"/);

      // @gitbeaker/rest's call for this route (it follows the pages itself).
      const api = new Gitlab({ host: c.url, token: p.developer.token });
      const viaClient = (await api.ResourceGroups.allUpcomingJobs(p.projectId, 'production')) as Array<{
        id: number;
      }>;
      assert.deepEqual(ids({ body: viaClient }), [second.deployId, third.deployId, slow.deployId]);

      const unknown = await c.api('GET', `${project}/resource_groups/staging/upcoming_jobs`, {
        token: p.developer.token,
      });
      assert.equal(unknown.status, 404, unknown.text);
      assert.equal(unknown.body.error, 'ERR_NOT_FOUND');

      // GitLab's read_resource_group is the Developer role's: a reporter is refused.
      const reporter = await userWithToken(c, 'reporter');
      const added = await c.api('POST', `/api/v4/groups/${p.groupId}/members`, {
        body: { user_id: reporter.id, access_level: 20 },
      });
      assert.equal(added.status, 201, added.text);
      assert.equal((await upcoming('', reporter.token)).status, 403);
      // Someone who cannot see the (private) project learns nothing of it.
      const outsider = await userWithToken(c, 'outsider');
      const hidden = await upcoming('', outsider.token);
      assert.equal(hidden.status, 404, hidden.text);
    });
  });
}
