// What a new commit cancels of an older pipeline, and what a failing job cancels of its own, when
// workflow:rules:auto_cancel and rules:interruptible decide it (GitLab 16.10+), through the coordinator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finishJob } from '../../src/coordinator/finish-job.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { type ProjectFixture, setUpProject } from './project-fixture.js';

/** `workflow:auto_cancel` says keep going; the rule for `main` says cancel interruptible jobs. */
const CONFIG = `
workflow:
  auto_cancel:
    on_new_commit: conservative
    on_job_failure: none
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      auto_cancel:
        on_new_commit: interruptible
        on_job_failure: all
    - when: always
steady:
  interruptible: true
  script: [sleep 60]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      interruptible: false
    - when: on_success
cut:
  interruptible: false
  script: [sleep 60]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      interruptible: true
    - when: on_success
plain:
  script: [sleep 60]
`;

async function createPipeline(c: TestCoordinator, p: ProjectFixture, ref: string): Promise<number> {
  const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=${ref}`, {
    token: p.developer.token,
  });
  assert.equal(created.status, 201, created.text);
  return created.body.id;
}

async function statuses(c: TestCoordinator, p: ProjectFixture, pipelineId: number) {
  const jobs = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${pipelineId}/jobs`, {
    token: p.developer.token,
  });
  return Object.fromEntries(jobs.body.map((job: { name: string; status: string }) => [job.name, job.status]));
}

/** Marks every pending job of the pipeline running, as runners picking them up would. */
async function startAll(c: TestCoordinator, pipelineId: number): Promise<void> {
  const coordinator = c.server.coordinator;
  for (const job of await coordinator.repos.jobs.listByPipeline(pipelineId)) {
    const started = await coordinator.repos.jobs.transition(job.id, ['pending'], {
      status: 'running',
      startedAt: coordinator.clock(),
    });
    assert.ok(started, `${job.name} started`);
  }
}

for (const dialect of testDialects()) {
  describe(`auto-cancel by workflow and job rules [${dialect.name}]`, { skip: dialect.skip }, () => {
    it("cancels what the matching workflow rule's on_new_commit and each job's rule say, on a new commit", async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      repo.git('branch', 'feature');
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);

      // main: the rule's on_new_commit: interruptible, and the rules' interruptible values.
      const olderMain = await createPipeline(c, p, 'main');
      await startAll(c, olderMain);
      // feature: conservative (top level) and the jobs' own values; steady (interruptible) and
      // cut (not) have started, so a new commit leaves the whole pipeline alone.
      const olderFeature = await createPipeline(c, p, 'feature');
      await startAll(c, olderFeature);

      await repo.commit({ 'README.md': 'newer\n' });
      repo.git('branch', '--force', 'feature', 'main');
      await createPipeline(c, p, 'main');
      await createPipeline(c, p, 'feature');

      // Without the rules, conservative would keep all three running (cut is not interruptible).
      assert.deepEqual(await statuses(c, p, olderMain), {
        steady: 'running',
        cut: 'canceled',
        plain: 'running',
      });
      assert.deepEqual(await statuses(c, p, olderFeature), {
        steady: 'running',
        cut: 'running',
        plain: 'running',
      });
    });

    it('cancels the rest of the pipeline when a job fails and the matching workflow rule says on_job_failure: all', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      repo.git('branch', 'feature');
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const coordinator = c.server.coordinator;
      const failOne = async (pipelineId: number) => {
        await startAll(c, pipelineId);
        const jobs = await coordinator.repos.jobs.listByPipeline(pipelineId);
        const plain = jobs.find((job) => job.name === 'plain');
        assert.ok(plain);
        await finishJob(coordinator, plain.id, { status: 'failed', exitCode: 1 });
      };

      const onMain = await createPipeline(c, p, 'main');
      await failOne(onMain);
      assert.deepEqual(await statuses(c, p, onMain), {
        steady: 'canceled',
        cut: 'canceled',
        plain: 'failed',
      });

      // feature: the top level's on_job_failure: none; the others keep running.
      const onFeature = await createPipeline(c, p, 'feature');
      await failOne(onFeature);
      assert.deepEqual(await statuses(c, p, onFeature), {
        steady: 'running',
        cut: 'running',
        plain: 'failed',
      });
    });
  });
}
