import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Gitlab } from '@gitbeaker/rest';
import { makeRepository } from '../coordinator/git-fixture.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator } from './harness.js';
import { findPythonGitlab, runPython } from './python-gitlab.js';

const SCENARIO = fileURLToPath(new URL('../fixtures/python-gitlab-scenario.py', import.meta.url));
const CI_CONFIG = { '.gitlab-ci.yml': 'build:\n  script: [echo build]\ntest:\n  script: [echo test]\n' };

const pythonGitlab = findPythonGitlab();

for (const dialect of testDialects()) {
  describe(`real GitLab clients against Tessera [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('python-gitlab: every resource, pages beyond the first (get_all, iterators, keyset) and deletes', {
      skip: 'skip' in pythonGitlab ? pythonGitlab.skip : false,
    }, async () => {
      if (!('python' in pythonGitlab)) return;
      const c = await startTestCoordinator(dialect);
      const repository = await makeRepository(CI_CONFIG);
      const run = await runPython(pythonGitlab.python, SCENARIO, {
        TESSERA_URL: c.url,
        TESSERA_TOKEN: c.adminToken,
        TESSERA_REPO: repository.path,
      });
      assert.equal(run.code, 0, `python-gitlab scenario failed:\n${run.stderr}`);
      const summary = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
      assert.deepEqual(summary, {
        me: 'root',
        version: summary.version,
        users: 13,
        projects: 23,
        pipelines: 11,
        projects_after_delete: 22,
      });
      assert.match(summary.version, /-tessera\./);
    });

    it('@gitbeaker/rest: every resource, maxPages and showExpanded pagination, query-string POSTs, deletes', async () => {
      const c = await startTestCoordinator(dialect);
      const repository = await makeRepository(CI_CONFIG);
      const api = new Gitlab({ host: c.url, token: c.adminToken });
      const me = await api.Users.showCurrentUser();
      assert.equal(me.username, 'root');
      const version = await api.Metadata.show();
      assert.match(version.version, /-tessera\./);

      for (let i = 0; i < 11; i++) {
        await api.Users.create({ username: `gb-${i}`, email: `gb${i}@example.com`, name: `Gb ${i}` });
      }
      const users = await api.Users.all({ perPage: 5, maxPages: 10 });
      assert.equal(users.length, 12);
      const firstTwo = await api.Users.all({ perPage: 5, maxPages: 2 });
      assert.equal(firstTwo.length, 10, 'maxPages stops after two pages');

      const group = await api.Groups.create('Gb Group', 'gb-group');
      const projectIds: number[] = [];
      for (let i = 0; i < 12; i++) {
        // Tessera's own project attribute (the repository it runs from) goes through as GitLab's do.
        const project = (await api.Projects.create({
          name: `gb-${i}`,
          namespaceId: group.id,
          repositoryUrl: repository.path,
        } as Parameters<typeof api.Projects.create>[0])) as { id: number };
        projectIds.push(project.id);
      }
      const expanded = await api.Projects.all({
        perPage: 5,
        page: 2,
        showExpanded: true,
        pagination: 'offset',
      });
      assert.equal(expanded.data.length, 5);
      assert.equal(expanded.paginationInfo.total, 12);
      assert.equal(expanded.paginationInfo.totalPages, 3);
      assert.equal(expanded.paginationInfo.next, 3);
      assert.equal(expanded.paginationInfo.previous, 1);
      const everyProject = await api.Projects.all({ perPage: 5 });
      assert.deepEqual(
        everyProject.map((p) => p.id).sort((a, b) => a - b),
        projectIds,
      );
      const keyset = await api.Projects.all({ pagination: 'keyset', orderBy: 'id', sort: 'asc', perPage: 5 });
      assert.deepEqual(
        keyset.map((p) => p.id),
        projectIds,
      );

      const projectId = projectIds[0] ?? 0;
      // GitLab's "Public pipelines" setting: gitbeaker still sends it by its deprecated name.
      await api.Projects.edit(projectId, { publicBuilds: false });
      assert.equal((await api.Projects.show(projectId)).public_jobs, false);
      // gitbeaker sends protect's parameters in the query string of its POST.
      const branch = await api.ProtectedBranches.protect(projectId, 'main', { pushAccessLevel: 40 });
      assert.equal(branch.name, 'main');
      assert.deepEqual(
        (await api.ProtectedBranches.all(projectId)).map((b) => b.name),
        ['main'],
      );
      await api.ProtectedBranches.unprotect(projectId, 'main');
      assert.deepEqual(await api.ProtectedBranches.all(projectId), []);

      await api.ProjectVariables.create(projectId, 'GB_KEY', 'one');
      assert.equal((await api.ProjectVariables.show(projectId, 'GB_KEY')).value, 'one');
      await api.ProjectVariables.edit(projectId, 'GB_KEY', 'two');
      assert.equal((await api.ProjectVariables.all(projectId))[0]?.value, 'two');
      await api.ProjectVariables.remove(projectId, 'GB_KEY');
      assert.deepEqual(await api.ProjectVariables.all(projectId), []);

      const user = users.find((u) => u.username === 'gb-0');
      assert.ok(user);
      await api.ProjectMembers.add(projectId, 30, { userId: user.id });
      assert.deepEqual(
        (await api.ProjectMembers.all(projectId)).map((m) => m.username),
        ['gb-0'],
      );
      await api.ProjectMembers.remove(projectId, user.id);
      assert.deepEqual(await api.ProjectMembers.all(projectId), []);

      const pipelineIds: number[] = [];
      for (let i = 0; i < 7; i++) pipelineIds.push((await api.Pipelines.create(projectId, 'main')).id);
      const pipelines = await api.Pipelines.all(projectId, { perPage: 3 });
      assert.deepEqual(
        pipelines.map((p) => p.id),
        [...pipelineIds].reverse(),
      );
      const latest = await api.Pipelines.show(projectId, 'latest' as unknown as number);
      assert.equal(latest.id, pipelineIds[6]);
      const jobs = await api.Jobs.all(projectId, { perPage: 4, scope: 'pending' });
      assert.equal(jobs.length, 14);
      await api.Pipelines.remove(projectId, pipelineIds[0] ?? 0);
      assert.equal((await api.Pipelines.all(projectId, { perPage: 100 })).length, 6);

      // Lifecycle deletes: a user, a project (with its pipelines), the group with the rest.
      await api.Users.block(user.id);
      await api.Users.unblock(user.id);
      await api.Users.remove(user.id);
      assert.equal((await api.Users.all({ perPage: 100 })).length, 11);
      await api.Projects.remove(projectId);
      assert.equal((await api.Projects.all({ perPage: 4 })).length, 11);
      await api.Groups.remove(group.id);
      assert.deepEqual(await api.Projects.all({ perPage: 4 }), []);
    });

    it('@gitbeaker/rest and python-gitlab: a pipeline created with inputs (GitLab 17.10+)', async () => {
      const c = await startTestCoordinator(dialect);
      const repository = await makeRepository({
        '.gitlab-ci.yml':
          'spec:\n  inputs:\n    target: { options: [linux, mac] }\n    jobs: { type: number, default: 1 }\n---\nbuild:\n  script: ["make -j$[[ inputs.jobs ]] $[[ inputs.target ]]"]\n',
      });
      const api = new Gitlab({ host: c.url, token: c.adminToken });
      const group = await api.Groups.create('Inputs', 'inputs');
      const project = (await api.Projects.create({
        name: 'in',
        namespaceId: group.id,
        repositoryUrl: repository.path,
      } as Parameters<typeof api.Projects.create>[0])) as { id: number };
      // gitbeaker 43 spreads the options into the JSON body; its types predate inputs.
      const options = { inputs: { target: 'mac', jobs: 4 } } as Parameters<typeof api.Pipelines.create>[2];
      const pipeline = (await api.Pipelines.create(project.id, 'main', options)) as { id: number };
      const jobs = await c.server.coordinator.repos.jobs.listByPipeline<{ script: string[] }>(pipeline.id);
      assert.deepEqual(jobs[0]?.spec.script, ['make -j4 mac']);
      await assert.rejects(
        api.Pipelines.create(project.id, 'main', {
          inputs: { target: 'windows' },
        } as Parameters<typeof api.Pipelines.create>[2]),
        (error: Error) => error.message === 'ERR_PIPELINE_INPUTS_INVALID',
      );
      if (!('python' in pythonGitlab)) return;
      const script = [
        'import os, gitlab',
        "gl = gitlab.Gitlab(os.environ['URL'], private_token=os.environ['TOKEN'])",
        "project = gl.projects.get(int(os.environ['PROJECT']))",
        "pipeline = project.pipelines.create({'ref': 'main', 'inputs': {'target': 'linux'}})",
        'print(pipeline.id)',
      ].join('\n');
      const dir = await mkdtemp(join(tmpdir(), 'tessera-pygl-'));
      await writeFile(join(dir, 'inputs.py'), script);
      const run = await runPython(pythonGitlab.python, join(dir, 'inputs.py'), {
        URL: c.url,
        TOKEN: c.adminToken,
        PROJECT: String(project.id),
      });
      await rm(dir, { recursive: true, force: true });
      assert.equal(run.code, 0, run.stderr);
      const made = await c.server.coordinator.repos.jobs.listByPipeline<{ script: string[] }>(
        Number(run.stdout.trim()),
      );
      assert.deepEqual(made[0]?.spec.script, ['make -j1 linux']);
    });

    it('@gitbeaker/rest and python-gitlab: deployments made by an external tool (create, update, delete)', async () => {
      const c = await startTestCoordinator(dialect);
      const repository = await makeRepository(CI_CONFIG);
      const api = new Gitlab({ host: c.url, token: c.adminToken });
      const group = await api.Groups.create('Deploys', 'deploys');
      const project = (await api.Projects.create({
        name: 'dep',
        namespaceId: group.id,
        repositoryUrl: repository.path,
      } as Parameters<typeof api.Projects.create>[0])) as { id: number };
      const sha = 'a'.repeat(40);

      const running = await api.Deployments.create(project.id, 'staging', sha, 'main', false, {
        status: 'running',
      });
      assert.deepEqual(
        [running.status, running.ref, running.sha, running.deployable, running.environment.name],
        ['running', 'main', sha, null, 'staging'],
      );
      const done = await api.Deployments.edit(project.id, running.id, 'success');
      assert.equal(done.status, 'success');
      assert.equal((await api.Deployments.show(project.id, running.id)).status, 'success');
      await assert.rejects(
        api.Deployments.edit(project.id, running.id, 'success'),
        (error: Error) => error.message === 'ERR_DEPLOYMENT_STATUS_TRANSITION',
      );
      const failed = await api.Deployments.create(project.id, 'staging', sha, 'v1', true, {
        status: 'failed',
      });
      await api.Deployments.remove(project.id, failed.id);
      await assert.rejects(
        api.Deployments.remove(project.id, running.id),
        (error: Error) => error.message === 'ERR_DEPLOYMENT_LAST',
      );
      assert.deepEqual(
        (await api.Deployments.all(project.id)).map((d) => d.id),
        [running.id],
      );

      if (!('python' in pythonGitlab)) return;
      const script = [
        'import json, os, gitlab',
        "gl = gitlab.Gitlab(os.environ['URL'], private_token=os.environ['TOKEN'])",
        "project = gl.projects.get(int(os.environ['PROJECT']))",
        'deployment = project.deployments.create(',
        "    {'environment': 'review/py', 'sha': os.environ['SHA'], 'ref': 'main', 'tag': False, 'status': 'running'}",
        ')',
        "assert deployment.status == 'running' and deployment.deployable is None, deployment.attributes",
        "deployment.status = 'canceled'",
        'deployment.save()',
        "assert deployment.status == 'canceled', deployment.attributes",
        "assert project.deployments.get(deployment.id).status == 'canceled'",
        'try:',
        "    deployment.status = 'running'",
        '    deployment.save()',
        "    raise AssertionError('running after canceled was accepted')",
        'except gitlab.exceptions.GitlabUpdateError as error:',
        '    assert error.response_code == 400, error.response_code',
        "listed = project.deployments.list(environment='review/py', status='canceled')",
        'assert [d.id for d in listed] == [deployment.id], [d.id for d in listed]',
        "gl.http_delete(f'/projects/{project.id}/deployments/{deployment.id}')",
        "print(json.dumps({'left': [d.id for d in project.deployments.list(get_all=True)]}))",
      ].join('\n');
      const dir = await mkdtemp(join(tmpdir(), 'tessera-pygl-'));
      await writeFile(join(dir, 'deployments.py'), script);
      const run = await runPython(pythonGitlab.python, join(dir, 'deployments.py'), {
        URL: c.url,
        TOKEN: c.adminToken,
        PROJECT: String(project.id),
        SHA: sha,
      });
      await rm(dir, { recursive: true, force: true });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout.trim()), { left: [running.id] });
    });
  });
}
