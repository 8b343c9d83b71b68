import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPipeline } from '../../src/coordinator/create-pipeline.js';
import { finishJob } from '../../src/coordinator/finish-job.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';

const CONFIG = `
stages: [build, test, deploy]
build:
  stage: build
  script: [echo build]
test:
  stage: test
  script: [echo test]
lint:
  stage: test
  needs: []
  script: [echo lint]
deploy:
  stage: deploy
  script: [echo deploy]
  when: manual
  environment: production
`;

/** Marks a job running (as a runner pickup would) and ends it, through the coordinator. */
async function runJob(
  c: TestCoordinator,
  jobId: number,
  status: 'success' | 'failed',
  exitCode = status === 'success' ? 0 : 1,
) {
  const coordinator = c.server.coordinator;
  assert.ok(
    await coordinator.repos.jobs.transition(jobId, ['pending'], {
      status: 'running',
      startedAt: coordinator.clock(),
    }),
  );
  await finishJob(coordinator, jobId, { status, exitCode });
}

async function jobsByName(c: TestCoordinator, projectId: number, pipelineId: number, token?: string) {
  const jobs = await c.api(
    'GET',
    `/api/v4/projects/${projectId}/pipelines/${pipelineId}/jobs`,
    token ? { token } : {},
  );
  return Object.fromEntries(jobs.body.map((job: { name: string }) => [job.name, job])) as Record<
    string,
    { id: number; status: string }
  >;
}

for (const dialect of testDialects()) {
  describe(`pipelines from git [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('takes a ref the caller resolved in the repository itself (tessera run), and only for that ref', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': 'first:\n  script: [echo 1]\n' });
      const firstSha = repo.git('rev-parse', 'HEAD');
      const secondSha = await repo.commit({ '.gitlab-ci.yml': 'second:\n  script: [echo 2]\n' });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const coordinator = c.server.coordinator;
      const project = await coordinator.repos.projects.findById(p.projectId);
      const user = await coordinator.repos.users.findById(p.developer.id);
      assert.ok(project && user);
      const resolvedRef = {
        name: 'main',
        type: 'branch',
        fullRef: 'refs/heads/main',
        sha: firstSha,
      } as const;
      const given = await createPipeline(coordinator, {
        project,
        user,
        ref: 'main',
        source: 'push',
        resolvedRef,
      });
      assert.equal(given.sha, firstSha);
      const givenJobs = await coordinator.repos.jobs.listByPipeline(given.id);
      assert.deepEqual(
        givenJobs.map((job) => job.name),
        ['first'],
      );
      // Resolved for another ref: ignored, the repository is asked.
      const other = await createPipeline(coordinator, {
        project,
        user,
        ref: 'main',
        source: 'push',
        resolvedRef: { ...resolvedRef, name: 'feature' },
      });
      assert.equal(other.sha, secondSha);
    });

    it('reads the config at the ref commit, plans jobs, and runs stages, needs and manual jobs', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      repo.git('checkout', '--quiet', '-b', 'feature');
      const featureSha = await repo.commit({ '.gitlab-ci.yml': 'only-feature:\n  script: [echo f]\n' });
      repo.git('checkout', '--quiet', 'main');
      const mainSha = repo.git('rev-parse', 'HEAD');
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);

      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.sha, mainSha);
      assert.equal(created.body.ref, 'main');
      assert.equal(created.body.source, 'api');
      assert.equal(created.body.status, 'pending');
      let jobs = await jobsByName(c, p.projectId, created.body.id);
      assert.deepEqual(Object.fromEntries(Object.entries(jobs).map(([name, job]) => [name, job.status])), {
        build: 'pending',
        test: 'created',
        lint: 'pending',
        deploy: 'created',
      });

      await runJob(c, jobs.build!.id, 'success');
      jobs = await jobsByName(c, p.projectId, created.body.id);
      assert.equal(jobs.test!.status, 'pending');
      await runJob(c, jobs.test!.id, 'success');
      await runJob(c, jobs.lint!.id, 'success');
      jobs = await jobsByName(c, p.projectId, created.body.id);
      assert.equal(jobs.deploy!.status, 'manual');
      // Manual jobs outside rules may fail, so the pipeline is done.
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}`)).body.status,
        'success',
      );
      const played = await c.api('POST', `/api/v4/projects/${p.projectId}/jobs/${jobs.deploy!.id}/play`, {
        token: p.developer.token,
      });
      assert.equal(played.status, 201);
      assert.equal(played.body.status, 'pending');

      const feature = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        token: p.developer.token,
        body: { ref: 'feature' },
      });
      assert.equal(feature.status, 201);
      assert.equal(feature.body.sha, featureSha);
      assert.deepEqual(Object.keys(await jobsByName(c, p.projectId, feature.body.id)), ['only-feature']);
      const onFeature = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines?ref=feature`);
      assert.deepEqual(
        onFeature.body.map((pipeline: { id: number }) => pipeline.id),
        [feature.body.id],
      );
    });

    it('skips on_success jobs after a failure, runs on_failure and always, honours allow_failure and retry', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
stages: [a, b, c]
flaky:
  stage: a
  script: [exit 1]
  retry: 1
optional:
  stage: a
  script: [exit 1]
  allow_failure: true
next:
  stage: b
  script: [echo]
cleanup:
  stage: c
  script: [echo]
  when: on_failure
report:
  stage: c
  script: [echo]
  when: always
`,
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      let jobs = await jobsByName(c, p.projectId, pipeline.body.id);
      await runJob(c, jobs.optional!.id, 'failed');
      await runJob(c, jobs.flaky!.id, 'failed');
      jobs = await jobsByName(c, p.projectId, pipeline.body.id);
      assert.equal(jobs.flaky!.status, 'pending', 'retry: 1 made a new attempt');
      await runJob(c, jobs.flaky!.id, 'failed');
      jobs = await jobsByName(c, p.projectId, pipeline.body.id);
      assert.equal(jobs.flaky!.status, 'failed');
      assert.equal(jobs.next!.status, 'skipped');
      assert.equal(jobs.cleanup!.status, 'pending');
      assert.equal(jobs.report!.status, 'pending');
      await runJob(c, jobs.cleanup!.id, 'success');
      await runJob(c, jobs.report!.id, 'success');
      const done = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${pipeline.body.id}`);
      assert.equal(done.body.status, 'failed');
      const all = await c.api(
        'GET',
        `/api/v4/projects/${p.projectId}/pipelines/${pipeline.body.id}/jobs?include_retried=true`,
      );
      assert.equal(all.body.filter((job: { name: string }) => job.name === 'flaky').length, 2);

      // A manual retry of the failed job brings the skipped one back.
      const retried = await c.api('POST', `/api/v4/projects/${p.projectId}/jobs/${jobs.flaky!.id}/retry`, {
        token: p.developer.token,
      });
      assert.equal(retried.status, 201);
      assert.equal(retried.body.status, 'pending');
      await runJob(c, retried.body.id, 'success');
      jobs = await jobsByName(c, p.projectId, pipeline.body.id);
      assert.equal(jobs.next!.status, 'pending');
      const cancel = await c.api('POST', `/api/v4/projects/${p.projectId}/jobs/${jobs.next!.id}/cancel`, {
        token: p.developer.token,
      });
      assert.equal(cancel.body.status, 'canceled');
      const again = await c.api('POST', `/api/v4/projects/${p.projectId}/jobs/${jobs.next!.id}/cancel`, {
        token: p.developer.token,
      });
      assert.equal(again.status, 409);
      assert.equal(again.body.error, 'ERR_JOB_STATE');
    });

    it('refuses protected refs and environments to roles below their level, saying why', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml':
          'build:\n  script: [echo]\ndeploy:\n  script: [echo]\n  environment: production\n  rules:\n    - if: $CI_COMMIT_TAG\n',
      });
      repo.git('branch', 'release/1.0');
      repo.git('tag', 'v1.0');
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, {
        body: { name: 'release/*', push_access_level: 40 },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_environments`, {
        body: { name: 'production', deploy_access_levels: [{ access_level: 40 }] },
      });
      const refused = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=release/1.0`, {
        token: p.developer.token,
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'ERR_REF_PROTECTED');
      assert.match(
        refused.body.message,
        /branch "release\/1\.0" is protected.*Maintainer role.*developer role/,
      );
      const allowed = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=release/1.0`, {
        token: p.maintainer.token,
      });
      assert.equal(allowed.status, 201);
      assert.equal(allowed.body.status, 'pending');
      // The tag is not protected, but its deploy job targets a protected environment.
      const deploy = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=v1.0`, {
        token: p.developer.token,
      });
      assert.equal(deploy.status, 403);
      assert.equal(deploy.body.error, 'ERR_ENVIRONMENT_PROTECTED');
      const tagged = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=v1.0`, {
        token: p.maintainer.token,
      });
      assert.equal(tagged.status, 201);
      assert.equal(tagged.body.tag, true);
    });

    it('refuses a config whose aliases multiply a long string, fast, storing nothing, with /-/health answering', async () => {
      const anchored = 'x'.repeat(127 * 1024);
      const aliased = (count: number) =>
        `.big: &big "${anchored}"\njob:\n  script:\n${'    - *big\n'.repeat(count)}`;
      const repo = await makeRepository({ '.gitlab-ci.yml': aliased(19_000) });
      repo.git('checkout', '--quiet', '-b', 'fewer');
      await repo.commit({ '.gitlab-ci.yml': aliased(1_500) });
      repo.git('checkout', '--quiet', '-b', 'huge');
      // Larger than git's output buffer for one file (16 MiB): once read as "no .gitlab-ci.yml".
      await repo.commit({ '.gitlab-ci.yml': `job:\n  script: [x]\n${'#'.repeat(20 * 1024 * 1024)}\n` });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const post = (ref: string) =>
        c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=${ref}`, { token: p.developer.token });
      const [bomb, health] = await Promise.all([post('main'), c.api('GET', '/-/health', { token: null })]);
      assert.equal(health.status, 200);
      assert.equal(bomb.status, 400);
      assert.equal(bomb.body.error, 'ERR_PIPELINE_INVALID');
      assert.match(
        bomb.body.message,
        /aliases expand to more than 4194304 bytes of text \(the limit on alias expansion\)/,
      );
      const fewer = await post('fewer');
      assert.equal(fewer.status, 400);
      assert.match(fewer.body.message, /limit on alias expansion/);
      const huge = await post('huge');
      assert.equal(huge.status, 400);
      assert.equal(huge.body.error, 'ERR_PIPELINE_INVALID');
      assert.match(
        huge.body.message,
        /\.gitlab-ci\.yml at commit \w{8} is 2097\d+ bytes, larger than the limit of 1048576 bytes/,
      );
      assert.equal((await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines`)).body.length, 0);
      const jobs = await c.server.coordinator.store.db.selectFrom('jobs').select('id').execute();
      assert.equal(jobs.length, 0);
    });

    it('answers a config path at a file that is not a pipeline as it answers a missing one, naming nothing in it', async () => {
      const repo = await makeRepository({
        'settings.json': '{"db_password": "hunter2", "api_key": {"region": "eu"}}\n',
        'list.yml': '- one\n- two\n',
        '.gitlab-ci.yml': 'job:\n  script: [echo]\n  when: sometimes\n',
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const messages = new Set<string>();
      for (const path of ['settings.json', 'list.yml', 'missing.yml', 'no/such/dir.yml']) {
        await c.api('PUT', `/api/v4/projects/${p.projectId}`, { body: { ci_config_path: path } });
        const answer = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
          token: p.developer.token,
        });
        assert.equal(answer.status, 400, path);
        assert.equal(answer.body.error, 'ERR_GIT_CONFIG_NOT_FOUND', path);
        assert.equal(answer.body.details, undefined);
        assert.doesNotMatch(answer.text, /db_password|api_key|region|one|two/);
        messages.add(answer.body.message.replace(path, '<path>'));
      }
      assert.equal(messages.size, 1, [...messages].join(' | '));
      // A real configuration with a mistake still gets every error, with its path and line.
      await c.api('PUT', `/api/v4/projects/${p.projectId}`, { body: { ci_config_path: '.gitlab-ci.yml' } });
      const invalid = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(invalid.body.error, 'ERR_PIPELINE_INVALID');
      assert.equal(invalid.body.details.errors[0].path, 'jobs.job.when');
    });

    it('answers 400 for unknown refs, missing and invalid configs, and stores nothing', async () => {
      const repo = await makeRepository({ 'README.md': 'no config' });
      repo.git('checkout', '--quiet', '-b', 'broken');
      await repo.commit({ '.gitlab-ci.yml': 'job:\n  script: [echo]\n  when: sometimes\n' });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const post = (ref: string) =>
        c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=${encodeURIComponent(ref)}`, {
          token: p.developer.token,
        });
      const unknown = await post('nope');
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error, 'ERR_GIT_REF_NOT_FOUND');
      const odd = await post('--upload-pack=touch /tmp/x');
      assert.equal(odd.status, 400);
      const missing = await post('main');
      assert.equal(missing.body.error, 'ERR_GIT_CONFIG_NOT_FOUND');
      const invalid = await post('broken');
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.error, 'ERR_PIPELINE_INVALID');
      assert.ok(invalid.body.details.errors[0].line >= 1);
      assert.equal((await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines`)).body.length, 0);
      const noRef = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        token: p.developer.token,
      });
      assert.equal(noRef.status, 400);
      assert.equal(noRef.body.error, 'ERR_VALIDATION');
    });
  });
}
