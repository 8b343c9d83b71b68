// End to end: a pipeline whose jobs come from another project of the instance (include:project,
// with a nested include:local read in that project) and from a component (~latest, inputs), and a
// dynamic child pipeline made from an earlier job's artifact, through a real `tessera serve` and
// a real `tessera runner`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commitFiles, git, makeRepository } from '../runner/git-repository.js';
import { TESSERA_BIN, useServeAndRunner } from './runner-harness.js';

const { root, coordinator } = useServeAndRunner('include', { runnerArgs: ['--executor', 'shell'] });

const component = (version: string) => `spec:
  inputs:
    greeting:
      default: hello
---
greet:
  script:
    - echo "component says $[[ inputs.greeting ]] from ${version}"
`;

describe('runner end to end: include:project, include:component and a dynamic child pipeline', () => {
  it('runs jobs from another project and a component, and a child pipeline from an artifact', async () => {
    const templatesDir = join(root, 'repos', 'templates');
    makeRepository(templatesDir, {
      'ci/build.yml': `include:
  - local: ci/common.yml
from-project:
  extends: .common
  script:
    - echo "project file with FROM_COMMON=$FROM_COMMON"
`,
      'ci/common.yml': '.common:\n  variables: { FROM_COMMON: templates-common }\n',
      'templates/greet.yml': component('v1.0.0'),
    });
    git(templatesDir, ['tag', 'v1.0.0']);
    commitFiles(templatesDir, { 'templates/greet.yml': component('v1.2.0') }, 'v1.2.0');
    git(templatesDir, ['tag', 'v1.2.0']);
    commitFiles(templatesDir, { 'templates/greet.yml': component('a pre-release') }, 'rc');
    git(templatesDir, ['tag', 'v2.0.0-rc.1']);
    commitFiles(templatesDir, { 'templates/greet.yml': component('main') }, 'unreleased');
    await coordinator.createProject('templates', templatesDir);

    const appDir = join(root, 'repos', 'app');
    makeRepository(appDir, {
      '.gitlab-ci.yml': `include:
  - project: templates-group/templates
    file: /ci/build.yml
  - component: $CI_SERVER_FQDN/templates-group/templates/greet@~latest
    inputs: { greeting: bonjour }
stages: [build, test, children]
generate:
  stage: build
  script:
    - |
      cat > generated.yml <<'END'
      dynamic:
        script:
          - echo "dynamic child ran in $CI_PIPELINE_SOURCE"
      END
  artifacts: { paths: [generated.yml] }
dynamic-child:
  stage: children
  trigger:
    include: [{ artifact: generated.yml, job: generate }]
    strategy: depend
`,
      // Not what the project file's include:local reads: that one is the templates project's.
      'ci/common.yml': '.common:\n  variables: { FROM_COMMON: app-common }\n',
    });
    const id = await coordinator.createProject('app', appDir);
    const pipeline = await coordinator.createPipeline(id);
    const done = await coordinator.waitForPipeline(id, pipeline.id);
    const bridges = await coordinator.ok<
      Array<{ name: string; status: string; downstream_pipeline: { id: number } | null }>
    >('GET', `/projects/${id}/pipelines/${pipeline.id}/bridges`);
    assert.equal(done.status, 'success', JSON.stringify(bridges));

    const fromProject = await coordinator.job(id, pipeline.id, 'from-project');
    assert.match(
      await coordinator.trace(id, fromProject.id),
      /\nproject file with FROM_COMMON=templates-common\n/,
    );
    const greet = await coordinator.job(id, pipeline.id, 'greet');
    assert.match(await coordinator.trace(id, greet.id), /\ncomponent says bonjour from v1\.2\.0\n/);

    const child = bridges.find((bridge) => bridge.name === 'dynamic-child');
    assert.equal(child?.status, 'success');
    const dynamic = await coordinator.job(id, child!.downstream_pipeline!.id, 'dynamic');
    assert.match(await coordinator.trace(id, dynamic.id), /\ndynamic child ran in parent_pipeline\n/);

    // tessera ci lint --server --project resolves the same includes, listed with GitLab's types.
    const local = join(root, 'lint-local.yml');
    writeFileSync(
      local,
      'include:\n  - { project: templates-group/templates, ref: v1.0.0, file: ci/build.yml }\n  - component: $CI_SERVER_FQDN/templates-group/templates/greet@v1.0.0\n',
    );
    const cli = spawnSync(
      process.execPath,
      [TESSERA_BIN, 'ci', 'lint', local, '--server', coordinator.url, '--project', String(id), '--json'],
      { encoding: 'utf8', env: { ...process.env, TESSERA_TOKEN: coordinator.adminToken } },
    );
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    const answer = JSON.parse(cli.stdout) as { includes: Array<{ type: string; location: string }> };
    assert.deepEqual(
      answer.includes.map((included) => [included.type, included.location.replace(/^[^/]+:\d+\//, 'FQDN/')]),
      [
        ['file', 'ci/build.yml'],
        ['local', 'ci/common.yml'],
        ['component', 'FQDN/templates-group/templates/greet@v1.0.0'],
      ],
    );
  });
});
