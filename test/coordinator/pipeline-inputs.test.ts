import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startBridgeJobs } from '../../src/coordinator/start-bridge-jobs.js';
import { isTesseraError } from '../../src/errors.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import type { PlannedJob } from '../../src/pipeline/plan.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { startIncludeServers } from './remote-include-server.js';

const DEPLOY = `spec:
  inputs:
    environment: { options: [staging, production] }
    replicas: { type: number, default: 1 }
    debug: { type: boolean, default: false }
    regions: { type: array, default: [eu] }
---
deploy:
  script: ["echo deploy $[[ inputs.environment ]] x$[[ inputs.replicas ]] debug=$[[ inputs.debug ]] $[[ inputs.regions ]]"]
`;

const CHILD = `spec:
  inputs:
    who:
    count: { type: number, default: 1 }
---
hello:
  script: ["echo hello $[[ inputs.who ]] $[[ inputs.count ]]"]
`;

/** The script lines of each job of a pipeline, by job name. */
async function scripts(c: TestCoordinator, pipelineId: number): Promise<Record<string, readonly string[]>> {
  const jobs = await c.server.coordinator.repos.jobs.listByPipeline<PlannedJob>(pipelineId);
  return Object.fromEntries(jobs.map((job) => [job.name, job.spec.script]));
}

describe('trigger:inputs and trigger:include:inputs in the schema', () => {
  it('refuses trigger:inputs beside include and inputs that are no mapping', async () => {
    await assert.rejects(
      loadPipeline({
        content:
          'a:\n  trigger: { include: ci/c.yml, inputs: { x: 1 } }\nb:\n  trigger: { project: g/p, inputs: 3 }\n',
      }),
      (error: unknown) => {
        assert.ok(isTesseraError(error));
        const errors = error.details?.errors as { path: string; message: string }[];
        assert.deepEqual(
          errors.map((problem) => problem.path),
          ['jobs.a.trigger.inputs', 'jobs.b.trigger.inputs'],
        );
        assert.match(errors[0]!.message, /goes with trigger:project only.*inputs per file/);
        assert.match(errors[1]!.message, /must be a mapping of input names and values, not the number 3/);
        return true;
      },
    );
  });

  it('warns, when the child file is at hand, about inputs that will fail its bridge', async () => {
    const files: Record<string, string> = { 'ci/child.yml': CHILD };
    const { warnings } = await loadPipeline({
      content:
        'good:\n  trigger:\n    include: [{ local: ci/child.yml, inputs: { who: w } }]\nbad:\n  trigger:\n    include: [{ local: ci/child.yml, inputs: { who: w, count: many } }]\nnone:\n  trigger: { include: ci/child.yml }\n',
      readLocalFile: async (path) => files[path],
    });
    assert.deepEqual(
      warnings.map((warning) => [warning.path, warning.line]),
      [
        ['jobs.bad.trigger.include[0].inputs.count', 4],
        ['jobs.none.trigger.include[0].inputs.who', 7],
      ],
    );
    assert.match(
      warnings[0]!.message,
      /the child pipeline of ci\/child\.yml will not be created: input "count" must be a number/,
    );
    assert.match(warnings[1]!.message, /input "who" is required/);
  });

  it('keeps each include entry with its inputs', async () => {
    const { spec } = await loadPipeline({
      content:
        'a:\n  trigger:\n    include:\n      - ci/plain.yml\n      - local: ci/c.yml\n        inputs: { who: w, list: [1, 2] }\n',
    });
    assert.deepEqual(spec.jobs[0]?.trigger?.include, [
      'ci/plain.yml',
      { local: 'ci/c.yml', inputs: { who: 'w', list: [1, 2] } },
    ]);
  });
});

for (const dialect of testDialects()) {
  describe(`pipeline inputs [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('takes inputs from the pipelines API and the trigger API, checked against spec:inputs, never as variables', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': DEPLOY });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        token: p.developer.token,
        body: { ref: 'main', inputs: { environment: 'production', replicas: 3, regions: ['eu', 'us'] } },
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual((await scripts(c, created.body.id)).deploy, [
        'echo deploy production x3 debug=false ["eu","us"]',
      ]);
      const variables = await c.api(
        'GET',
        `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}/variables`,
        {
          token: p.developer.token,
        },
      );
      assert.deepEqual(variables.body, [], 'inputs are not pipeline variables');

      const refusals: [Record<string, unknown>, string, RegExp][] = [
        [{ environment: 'staging', colour: 'red' }, 'colour', /unknown input "colour"/],
        [{ environment: 'staging', replicas: 'many' }, 'replicas', /must be a number/],
        [{ environment: 'qa' }, 'environment', /environment/],
        [{}, 'environment', /input "environment" is required/],
        [{ environment: null }, 'environment', /must be a string, a number/],
      ];
      for (const [inputs, name, message] of refusals) {
        const refused = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main', inputs },
        });
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.body.error, 'ERR_PIPELINE_INPUTS_INVALID');
        assert.equal(refused.body.details.input, name, refused.text);
        assert.match(refused.body.message, message);
      }

      // A trigger's form fields carry strings, read as each input's type.
      const trigger = await c.api('POST', `/api/v4/projects/${p.projectId}/triggers`, {
        token: p.maintainer.token,
        body: { description: 'deploys' },
      });
      const triggered = await c.api('POST', `/api/v4/projects/${p.projectId}/trigger/pipeline`, {
        token: null,
        form: {
          token: trigger.body.token,
          ref: 'main',
          'inputs[environment]': 'staging',
          'inputs[replicas]': '2',
          'inputs[debug]': 'true',
        },
      });
      assert.equal(triggered.status, 201, triggered.text);
      assert.deepEqual((await scripts(c, triggered.body.id)).deploy, [
        'echo deploy staging x2 debug=true ["eu"]',
      ]);
      const wrong = await c.api('POST', `/api/v4/projects/${p.projectId}/trigger/pipeline`, {
        token: null,
        body: { token: trigger.body.token, ref: 'main', inputs: { environment: 'staging', debug: 'maybe' } },
      });
      assert.equal(wrong.status, 400, wrong.text);
      assert.equal(wrong.body.details.input, 'debug');
    });

    it('passes trigger:include:inputs to a child and trigger:inputs to another project, failing a bridge whose inputs do not fit', async () => {
      const downstream = await makeRepository({ '.gitlab-ci.yml': DEPLOY });
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
child:
  trigger:
    include:
      - local: ci/child.yml
        inputs: { who: world, count: 2 }
bad-child:
  trigger:
    include: [{ local: ci/child.yml, inputs: { who: w, count: many } }]
deploy:
  trigger:
    project: acme/downstream
    inputs: { environment: production, replicas: 5 }
bad-deploy:
  trigger:
    project: acme/downstream
    inputs: { environment: production, colour: red }
`,
        'ci/child.yml': CHILD,
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const other = await c.api('POST', '/api/v4/projects', {
        body: {
          name: 'downstream',
          path: 'downstream',
          namespace_id: p.groupId,
          repository_url: downstream.path,
        },
      });
      assert.equal(other.status, 201, other.text);
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        token: p.developer.token,
        body: { ref: 'main' },
      });
      assert.equal(created.status, 201, created.text);
      const coordinator = c.server.coordinator;
      await startBridgeJobs(coordinator);
      const bridges = new Map(
        (await coordinator.repos.jobs.listStatesByPipeline(created.body.id, true)).map((job) => [
          job.name,
          job,
        ]),
      );
      const downstreamOf = async (name: string) => {
        const pipeline = await coordinator.repos.pipelines.findBySourceJob(bridges.get(name)!.id);
        assert.ok(pipeline, `${name} made a pipeline`);
        return scripts(c, pipeline.id);
      };
      assert.deepEqual((await downstreamOf('child')).hello, ['echo hello world 2']);
      assert.deepEqual((await downstreamOf('deploy')).deploy, [
        'echo deploy production x5 debug=false ["eu"]',
      ]);
      for (const [name, input] of [
        ['bad-child', 'count'],
        ['bad-deploy', 'colour'],
      ] as const) {
        const bridge = await coordinator.repos.jobs.findById(bridges.get(name)!.id);
        assert.equal(bridge?.status, 'failed', name);
        assert.equal(bridge?.failureReason, 'downstream_pipeline_creation_failed');
        assert.match(await coordinator.repos.jobs.readTrace(bridge!.id), new RegExp(`inputs\\.${input}`));
      }
    });

    it('creates a pipeline whose configuration includes a file from an allowed HTTPS host', async () => {
      const servers = await startIncludeServers({
        '/templates/build.yml':
          'spec:\n  inputs:\n    tool: { default: make }\n---\nbuild:\n  script: ["$[[ inputs.tool ]] all"]\n',
      });
      const repo = await makeRepository({
        '.gitlab-ci.yml': `include:\n  - remote: ${servers.https}/templates/build.yml\n    inputs: { tool: ninja }\ntest:\n  script: [echo test]\n`,
      });
      const c = await startTestCoordinator(dialect, {
        includeRemoteHosts: '127.0.0.1',
        includeRemoteCaFile: servers.caFile,
      });
      const p = await setUpProject(c, repo.path);
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        token: p.developer.token,
        body: { ref: 'main' },
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(await scripts(c, created.body.id), { build: ['ninja all'], test: ['echo test'] });
      const lint = await c.api('GET', `/api/v4/projects/${p.projectId}/ci/lint`, {
        token: p.developer.token,
      });
      assert.equal(lint.body.valid, true, lint.text);
      assert.deepEqual(
        lint.body.includes.map((include: { type: string; location: string; blob: string | null }) => [
          include.type,
          include.location,
          include.blob,
        ]),
        [['remote', `${servers.https}/templates/build.yml`, null]],
      );
    });
  });
}
