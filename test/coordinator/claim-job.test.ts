import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { registerRunner, requestJob } from './runner-client.js';

/** A `.gitlab-ci.yml` with `count` jobs named `<prefix><n>`, each with `extra` lines. */
function jobs(prefix: string, count: number, extra = ''): string {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}:\n  script: [x]\n${extra}`).join('');
}

for (const dialect of testDialects()) {
  describe(`claiming jobs [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('finds a runner’s eligible job behind 150 it may not take, and never hands one out twice', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `${jobs('gpu', 150, '  tags: [gpu]\n')}plain:\n  script: [x]\n`,
      });
      const other = await makeRepository({ '.gitlab-ci.yml': 'other:\n  script: [x]\n' });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const q = await setUpProject(c, other.path, { path: 'other' });
      const untagged = await registerRunner(c);
      const otherProjectRunner = await registerRunner(c, {
        runner_type: 'project_type',
        project_id: q.projectId,
      });
      const gpu = await Promise.all(
        [1, 2, 3].map(() => registerRunner(c, { tag_list: ['gpu', 'linux'], run_untagged: false })),
      );
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(created.status, 201);

      assert.equal(
        await requestJob(c, otherProjectRunner),
        null,
        'a project runner takes only its project’s jobs',
      );
      assert.equal((await requestJob(c, untagged))?.job_info.name, 'plain', 'found behind 150 tagged jobs');
      assert.equal(await requestJob(c, untagged), null, 'an untagged runner takes no tagged job');

      // 160 requests from three runners at once for the 150 tagged jobs.
      const answers = await Promise.all(Array.from({ length: 160 }, (_, i) => requestJob(c, gpu[i % 3]!)));
      const names = answers.filter((job) => job !== null).map((job) => job!.job_info.name);
      assert.equal(names.length, 150, 'every tagged job handed out');
      assert.equal(new Set(names).size, 150, 'none handed out twice');
      assert.ok(names.every((name) => name.startsWith('gpu')));
    });

    it('serves subgroups to a group runner, protected refs only to a ref_protected runner', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': 'job:\n  script: [x]\n' });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const sub = await c.api('POST', '/api/v4/groups', {
        body: { name: 'Sub', path: 'sub', parent_id: p.groupId },
      });
      assert.equal(sub.status, 201);
      const subProject = await c.api('POST', '/api/v4/projects', {
        body: { name: 'deep', path: 'deep', namespace_id: sub.body.id, repository_url: repo.path },
      });
      assert.equal(subProject.status, 201);
      const subGroupRunner = await registerRunner(c, { runner_type: 'group_type', group_id: sub.body.id });
      const parentGroupRunner = await registerRunner(c, { runner_type: 'group_type', group_id: p.groupId });
      const protectedRunner = await registerRunner(c, { access_level: 'ref_protected' });

      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.maintainer.token });
      assert.equal(await requestJob(c, protectedRunner), null, 'main is not protected');
      assert.equal(
        await requestJob(c, subGroupRunner),
        null,
        'the parent group’s project is not the subgroup’s',
      );
      assert.ok(await requestJob(c, parentGroupRunner));

      await c.api('POST', `/api/v4/projects/${subProject.body.id}/pipeline?ref=main`, {
        token: p.maintainer.token,
      });
      assert.equal(
        (await requestJob(c, parentGroupRunner))?.job_info.project_id,
        subProject.body.id,
        'subgroups too',
      );

      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, {
        body: { name: 'main', push_access_level: 40 },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.maintainer.token });
      assert.equal((await requestJob(c, protectedRunner))?.job_info.project_id, p.projectId);
    });

    it('lets a project with fewer running jobs go first on instance runners (fair usage)', async () => {
      const busy = await makeRepository({ '.gitlab-ci.yml': jobs('busy', 3) });
      const quiet = await makeRepository({ '.gitlab-ci.yml': jobs('quiet', 2) });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const a = await setUpProject(c, busy.path, { path: 'busy' });
      const b = await setUpProject(c, quiet.path, { path: 'quiet' });
      const runner = await registerRunner(c);
      const projectRunner = await registerRunner(c, { runner_type: 'project_type', project_id: a.projectId });
      await c.api('POST', `/api/v4/projects/${a.projectId}/pipeline?ref=main`, { token: a.developer.token });
      await c.api('POST', `/api/v4/projects/${b.projectId}/pipeline?ref=main`, { token: b.developer.token });
      const order = [];
      for (let i = 0; i < 4; i++) order.push((await requestJob(c, runner))?.job_info.name);
      // busy0 (none running anywhere), quiet0 (busy runs 1), busy1 (one each: the older), quiet1 (busy runs 2).
      assert.deepEqual(order, ['busy0', 'quiet0', 'busy1', 'quiet1']);
      // A project runner serves its project in queue order.
      assert.equal((await requestJob(c, projectRunner))?.job_info.name, 'busy2');
    });

    it('hands the jobs of a new pipeline to as many waiting polls as there are jobs', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': jobs('job', 3) });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 3 });
      const p = await setUpProject(c, repo.path);
      const runners = await Promise.all([1, 2, 3, 4, 5].map(() => registerRunner(c)));
      const polls = Promise.all(runners.map((token) => requestJob(c, token)));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      const names = (await polls).filter((job) => job !== null).map((job) => job!.job_info.name);
      assert.deepEqual(names.sort(), ['job0', 'job1', 'job2']);
    });
  });
}
