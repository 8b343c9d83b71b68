// resource_group with variables, end to end through the API and the runner protocol on both
// dialects: a per-branch group lets pipelines of different branches deploy at once while those of
// one branch take turns, a retried job keeps its group, the resource groups API shows the expanded
// key, and a key that expands to nothing, or to what GitLab refuses as a key, leaves its jobs
// outside any group (as GitLab).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { registerRunner, requestJob, updateJob } from './runner-client.js';

for (const dialect of testDialects()) {
  describe(`resource_group keys with variables [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('runs jobs of different branches at once, one job per branch at a time, and keeps a retried job in its group', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'deploy:\n  resource_group: deploy/$CI_COMMIT_REF_SLUG\n  script: [x]\n',
      });
      repo.git('branch', 'Feature/A');
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const runner = await registerRunner(c);
      const start = async (ref: string) => {
        const created = await c.api(
          'POST',
          `/api/v4/projects/${p.projectId}/pipeline?ref=${encodeURIComponent(ref)}`,
          { token: p.developer.token },
        );
        assert.equal(created.status, 201, created.text);
        return created.body.id as number;
      };
      const onMain = await start('main');
      await start('Feature/A');
      const onMainAgain = await start('main');

      const first = await requestJob(c, runner);
      const second = await requestJob(c, runner);
      assert.deepEqual(
        [first?.git_info.ref, second?.git_info.ref].sort(),
        ['Feature/A', 'main'],
        'one deploy per branch runs at the same time',
      );
      const mainJob = first?.git_info.ref === 'main' ? first : second;
      const mainJobs = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${onMain}/jobs`, {
        token: p.developer.token,
      });
      assert.equal(mainJob?.id, mainJobs.body[0].id, 'the first main pipeline deploys first');
      assert.equal(await requestJob(c, runner), null, 'the second main pipeline waits for the first');

      const groups = await c.api('GET', `/api/v4/projects/${p.projectId}/resource_groups`, {
        token: p.developer.token,
      });
      assert.deepEqual(groups.body.map((group: { key: string }) => group.key).sort(), [
        'deploy/feature-a',
        'deploy/main',
      ]);
      const one = await c.api('GET', `/api/v4/projects/${p.projectId}/resource_groups/deploy%2Ffeature-a`, {
        token: p.developer.token,
      });
      assert.equal(one.status, 200, one.text);
      assert.equal(one.body.key, 'deploy/feature-a');

      assert.equal(
        (await updateJob(c, mainJob!, { state: 'failed', failure_reason: 'script_failure' })).status,
        200,
      );
      const third = await requestJob(c, runner);
      assert.equal(third?.git_info.ref, 'main');
      const jobs = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${onMainAgain}/jobs`, {
        token: p.developer.token,
      });
      assert.equal(third?.id, jobs.body[0].id, 'the waiting main job runs once the group is free');

      // The failed job's retry waits for the running main job, in the very group its first attempt had.
      const retried = await c.api('POST', `/api/v4/projects/${p.projectId}/jobs/${mainJob!.id}/retry`, {
        token: p.developer.token,
      });
      assert.equal(retried.status, 201, retried.text);
      assert.equal(await requestJob(c, runner), null, 'the retry waits for deploy/main');
      assert.equal((await updateJob(c, third!, { state: 'success' })).status, 200);
      const again = await requestJob(c, runner);
      assert.equal(again?.id, retried.body.id);
      assert.equal(again?.git_info.ref, 'main');
      const after = await c.api('GET', `/api/v4/projects/${p.projectId}/resource_groups`, {
        token: p.developer.token,
      });
      assert.equal(after.body.length, 2, 'no group was made for the retry');
    });

    it('expands CI_PIPELINE_IID in a key (allocated before the keys, as GitLab), and CI_PIPELINE_CREATED_AT to nothing (GitLab saves the pipeline after)', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': [
          'deploy:\n  resource_group: deploy-$CI_PIPELINE_IID\n  script: [x]\n',
          'stamp:\n  resource_group: at-$CI_PIPELINE_CREATED_AT\n  script: [x]\n',
        ].join(''),
      });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const iids: number[] = [];
      for (let i = 0; i < 2; i++) {
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
          token: p.developer.token,
        });
        assert.equal(created.status, 201, created.text);
        iids.push(created.body.iid);
      }
      assert.deepEqual(iids, [1, 2]);
      const groups = await c.api('GET', `/api/v4/projects/${p.projectId}/resource_groups`, {
        token: p.developer.token,
      });
      assert.deepEqual(groups.body.map((group: { key: string }) => group.key).sort(), [
        'at-',
        'deploy-1',
        'deploy-2',
      ]);
    });

    it('leaves jobs whose key expands to nothing or to an invalid key outside any group, with a pipeline warning', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': [
          'a:\n  resource_group: $UNSET\n  script: [x]\n',
          'b:\n  resource_group: $UNSET/\n  script: [x]\n',
          'c:\n  variables: {WHERE: $TARGET}\n  resource_group: to-$WHERE\n  script: [x]\n',
          'd:\n  resource_group: to-$TARGET\n  script: [x]\n',
        ].join(''),
      });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      // A project variable reaches the key, through a job variable too.
      const variable = await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        token: p.maintainer.token,
        body: { key: 'TARGET', value: 'prod' },
      });
      assert.equal(variable.status, 201, variable.text);
      const runner = await registerRunner(c);
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(created.status, 201, created.text);
      const warnings: string[] = created.body.warnings;
      assert.deepEqual(
        warnings.filter((warning) => warning.includes('resource_group')).length,
        2,
        JSON.stringify(warnings),
      );
      assert.match(
        warnings.join('\n'),
        /jobs\.a\.resource_group: "\$UNSET" expands to an empty or invalid key/,
      );

      const names: string[] = [];
      for (let i = 0; i < 3; i++) names.push((await requestJob(c, runner))?.job_info.name ?? 'none');
      assert.deepEqual(
        names.filter((name) => name === 'a' || name === 'b').sort(),
        ['a', 'b'],
        'a (empty key) and b ("/") are in no group',
      );
      assert.equal(names.filter((name) => name === 'c' || name === 'd').length, 1, 'c and d share to-prod');
      assert.equal(await requestJob(c, runner), null, 'the other of c and d waits');
      const groups = await c.api('GET', `/api/v4/projects/${p.projectId}/resource_groups`, {
        token: p.developer.token,
      });
      assert.deepEqual(
        groups.body.map((group: { key: string }) => group.key),
        ['to-prod'],
      );
    });
  });
}
