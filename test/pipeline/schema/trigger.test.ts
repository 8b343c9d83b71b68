import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardedVariables } from '../../../src/coordinator/start-bridge-jobs.js';
import { isTesseraError } from '../../../src/errors.js';
import { loadPipeline } from '../../../src/pipeline/load.js';
import { planPipeline } from '../../../src/pipeline/plan.js';
import { buildRuleVariables } from '../../../src/pipeline/rule-variables.js';
import type { TriggerSpec } from '../../../src/pipeline/schema/trigger.js';

async function plannedJobs(content: string) {
  const { spec } = await loadPipeline({ content });
  return planPipeline(spec, buildRuleVariables({ ref: 'main', tag: false, source: 'push' })).jobs;
}

async function problemsOf(content: string): Promise<Array<{ path: string; message: string }>> {
  try {
    await loadPipeline({ content });
  } catch (error) {
    if (isTesseraError(error))
      return (error.details?.errors ?? []) as Array<{ path: string; message: string }>;
    throw error;
  }
  return [];
}

describe('trigger: (bridge jobs)', () => {
  it('reads trigger:include as a path, a list and { local } entries, with GitLab forward defaults', async () => {
    const jobs = await plannedJobs(`
build:
  script: [make]
child-string:
  trigger:
    include: ci/child.yml
child-list:
  trigger:
    include: [ci/a.yml, { local: /ci/b.yaml }]
    strategy: depend
    forward: { pipeline_variables: true }
`);
    const bridge = (name: string) => jobs.find((job) => job.name === name)?.trigger;
    assert.deepEqual(bridge('child-string'), {
      include: ['ci/child.yml'],
      project: null,
      branch: null,
      strategy: null,
      forward: { yamlVariables: true, pipelineVariables: false },
    });
    assert.deepEqual(bridge('child-list'), {
      include: ['ci/a.yml', 'ci/b.yaml'],
      project: null,
      branch: null,
      strategy: 'depend',
      forward: { yamlVariables: true, pipelineVariables: true },
    });
    assert.equal(bridge('build'), undefined);
    assert.deepEqual(jobs.find((job) => job.name === 'child-string')?.script, []);
  });

  it('reads child files of another project, of an artifact and a component', async () => {
    const jobs = await plannedJobs(`
generate:
  stage: build
  script: [make]
child:
  trigger:
    include:
      - { project: acme/templates, ref: v1.0.0, file: /ci/child.yml }
      - { artifact: generated.yml, job: generate }
      - { component: example.com/acme/components/build@1.0.0, inputs: { stage: test, list: [a, 1] } }
remote:
  trigger:
    include:
      - remote: https://ci.example.com/child.yml
        integrity: sha256-${'A'.repeat(43)}=
        inputs: { who: me }
      - { remote: 'https://$TEMPLATES_HOST/ci/child.yml' }
`);
    assert.deepEqual(jobs.find((job) => job.name === 'child')?.trigger?.include, [
      { project: 'acme/templates', ref: 'v1.0.0', file: ['ci/child.yml'] },
      { artifact: 'generated.yml', job: 'generate' },
      { component: 'example.com/acme/components/build@1.0.0', inputs: { stage: 'test', list: ['a', 1] } },
    ]);
    assert.deepEqual(jobs.find((job) => job.name === 'remote')?.trigger?.include, [
      {
        remote: 'https://ci.example.com/child.yml',
        integrity: `sha256-${'A'.repeat(43)}=`,
        inputs: { who: 'me' },
      },
      { remote: 'https://$TEMPLATES_HOST/ci/child.yml' },
    ]);
  });

  it('reads the project forms (trigger: group/project and { project, branch })', async () => {
    const jobs = await plannedJobs(`
short:
  trigger: group/other
long:
  trigger: { project: group/sub/other, branch: main, strategy: depend }
`);
    assert.equal(jobs.find((job) => job.name === 'short')?.trigger?.project, 'group/other');
    const long = jobs.find((job) => job.name === 'long')?.trigger;
    assert.deepEqual([long?.project, long?.branch, long?.strategy], ['group/sub/other', 'main', 'depend']);
  });

  it('refuses what GitLab refuses, each at its own path with what to write', async () => {
    const problems = await problemsOf(`
with-script:
  trigger: { include: ci/child.yml }
  script: [echo]
  image: alpine
both:
  trigger: { include: ci/child.yml, project: group/other }
neither:
  trigger: { strategy: depend }
too-many:
  trigger: { include: [a.yml, b.yml, c.yml, d.yml] }
not-yaml:
  trigger: { include: ci/child.txt }
other-project-file:
  trigger: { include: [{ project: group/other, file: child.yml }] }
artifact-without-job:
  trigger: { include: [{ artifact: generated.yml }] }
artifact-of-no-job:
  trigger: { include: [{ artifact: generated.yml, job: nobody }] }
artifact-same-stage:
  trigger: { include: [{ artifact: generated.yml, job: with-script }] }
artifact-not-needed:
  stage: deploy
  needs: []
  trigger: { include: [{ artifact: generated.yml, job: with-script }] }
remote-not-yaml:
  trigger: { include: [{ remote: 'https://example.com/child.txt' }] }
remote-with-password:
  trigger: { include: [{ remote: 'https://me:secret@example.com/child.yml' }] }
remote-bad-integrity:
  trigger: { include: [{ remote: 'https://example.com/child.yml', integrity: md5-abc }] }
remote-cache:
  trigger: { include: [{ remote: 'https://example.com/child.yml', cache: true }] }
bad-strategy:
  trigger: { include: ci/child.yml, strategy: wait }
branch-on-child:
  trigger: { include: ci/child.yml, branch: main }
bad-path:
  trigger: { project: lonely }
variable-path:
  trigger: { project: $TARGET }
fanned:
  trigger: { include: ci/child.yml }
  parallel: 2
delayed:
  trigger: { include: ci/child.yml }
  when: delayed
  start_in: 1 minute
`);
    const at = (path: string) => problems.find((problem) => problem.path === path)?.message ?? 'none';
    assert.match(at('jobs.with-script.script'), /not allowed in a trigger job/);
    assert.match(at('jobs.with-script.image'), /not allowed in a trigger job/);
    assert.match(at('jobs.both.trigger'), /both include .* and project/);
    assert.match(at('jobs.neither.trigger'), /needs include .* or project/);
    assert.match(at('jobs.too-many.trigger.include'), /at most 3 files, not 4/);
    assert.match(at('jobs.not-yaml.trigger.include'), /not a YAML file/);
    assert.equal(at('jobs.other-project-file.trigger.include[0].project'), 'none', 'read from the project');
    assert.match(at('jobs.artifact-without-job.trigger.include[0].job'), /is required with artifact/);
    assert.match(at('jobs.artifact-of-no-job.trigger.include[0].job'), /"nobody" is not a job/);
    assert.match(at('jobs.artifact-same-stage.trigger.include[0].job'), /should be in a previous stage/);
    assert.match(at('jobs.artifact-not-needed.trigger.include[0].job'), /should be part of needs/);
    assert.match(at('jobs.remote-not-yaml.trigger.include[0].remote'), /must be a .yml or .yaml file/);
    assert.match(at('jobs.remote-with-password.trigger.include[0].remote'), /carries credentials/);
    assert.doesNotMatch(at('jobs.remote-with-password.trigger.include[0].remote'), /secret/);
    assert.match(at('jobs.remote-bad-integrity.trigger.include[0].integrity'), /must be sha256-/);
    assert.match(at('jobs.remote-cache.trigger.include[0].cache'), /unknown|not allowed|valid/i);
    assert.match(at('jobs.bad-strategy.trigger.strategy'), /must be depend/);
    assert.match(at('jobs.branch-on-child.trigger.branch'), /trigger:project only/);
    assert.match(at('jobs.delayed.when'), /cannot be delayed/);
    assert.match(at('jobs.fanned.parallel'), /cannot use parallel: <number>; write parallel: \{ matrix/);
    assert.match(at('jobs.bad-path.trigger.project'), /"lonely" is not a project path: write group\/project/);
    assert.equal(at('jobs.variable-path.trigger.project'), 'none', 'expanded when the bridge runs');
    assert.equal(
      problems.some((problem) => /every job needs script/.test(problem.message)),
      false,
      'no trigger job is told it needs a script',
    );
  });

  it('makes one bridge per parallel:matrix combination, named as GitLab names matrix jobs, with its variables', async () => {
    const jobs = await plannedJobs(`
variables: { GLOBAL: g }
deploy:
  variables: { STACK: default, OWN: j }
  trigger: { include: ci/deploy.yml, strategy: depend }
  parallel:
    matrix:
      - PROVIDER: ovh
        STACK: [monitoring, app]
      - PROVIDER: [gcp, vultr]
        STACK: data
after:
  stage: deploy
  needs: [deploy]
  script: [echo done]
`);
    const bridges = jobs.filter((job) => job.trigger !== undefined);
    assert.deepEqual(
      bridges.map((job) => job.name),
      ['deploy: [ovh, monitoring]', 'deploy: [ovh, app]', 'deploy: [gcp, data]', 'deploy: [vultr, data]'],
    );
    assert.deepEqual(bridges[3]?.variables, { STACK: 'data', OWN: 'j', PROVIDER: 'vultr' });
    assert.deepEqual(
      bridges.map((job) => job.trigger?.include),
      bridges.map(() => ['ci/deploy.yml']),
    );
    const upstream = { variables: { GLOBAL: 'g' }, apiVariables: {} };
    const forwarded = (bridge: (typeof bridges)[number], yamlVariables: boolean) =>
      forwardedVariables(
        bridge,
        { ...(bridge.trigger as TriggerSpec), forward: { yamlVariables, pipelineVariables: false } },
        upstream,
      );
    assert.deepEqual(forwarded(bridges[0] as (typeof bridges)[number], true), {
      GLOBAL: 'g',
      STACK: 'monitoring',
      OWN: 'j',
      PROVIDER: 'ovh',
    });
    assert.deepEqual(
      forwarded(bridges[0] as (typeof bridges)[number], false),
      {},
      'forward:yaml_variables false keeps the matrix variables upstream too',
    );
    assert.deepEqual(
      jobs.find((job) => job.name === 'after')?.needs,
      bridges.map((job) => job.name),
      'needs naming the bridge waits for every combination',
    );
  });

  it('forwards YAML variables (global ones as inherit:variables says) and, when asked, pipeline variables', () => {
    const upstream = { variables: { GLOBAL: 'g', OTHER: 'o' }, apiVariables: { API: 'a' } };
    const bridge = { variables: { OWN: 'j' }, inheritVariables: ['GLOBAL'] } as never;
    const forward = (yamlVariables: boolean, pipelineVariables: boolean) =>
      forwardedVariables(
        bridge,
        {
          include: ['c.yml'],
          project: null,
          branch: null,
          strategy: null,
          forward: { yamlVariables, pipelineVariables },
        },
        upstream,
      );
    assert.deepEqual(forward(true, false), { GLOBAL: 'g', OWN: 'j' });
    assert.deepEqual(forward(false, true), { API: 'a' });
    assert.deepEqual(forward(false, false), {});
  });
});
