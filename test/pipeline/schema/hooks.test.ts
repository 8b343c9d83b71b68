import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../../src/errors.js';
import { loadPipeline } from '../../../src/pipeline/load.js';
import { planPipeline } from '../../../src/pipeline/plan.js';
import { buildRuleVariables } from '../../../src/pipeline/rule-variables.js';

async function plannedJobs(content: string) {
  const { spec } = await loadPipeline({ content });
  return planPipeline(spec, buildRuleVariables({ ref: 'main', tag: false, source: 'push' })).jobs;
}

async function problemsOf(
  content: string,
): Promise<{ path: string; message: string; line: number | null }[]> {
  try {
    await loadPipeline({ content });
  } catch (error) {
    if (isTesseraError(error)) {
      const details = error.details as { errors?: { path: string; message: string; line: number | null }[] };
      return details.errors ?? [];
    }
    throw error;
  }
  return [];
}

describe('hooks:pre_get_sources_script', () => {
  it('reads a command or a list (nested lists flattened) and plans it with the job', async () => {
    const jobs = await plannedJobs(`
.git-setup: [git config --global http.version HTTP/1.1]
single:
  hooks:
    pre_get_sources_script: echo one
  script: [build]
nested:
  hooks:
    pre_get_sources_script:
      - !reference [.git-setup]
      - [echo a, [echo b]]
  script: [build]
none:
  script: [build]
`);
    const hooksOf = (name: string) => jobs.find((job) => job.name === name)?.hooks;
    assert.deepEqual(hooksOf('single'), { preGetSourcesScript: ['echo one'] });
    assert.deepEqual(hooksOf('nested'), {
      preGetSourcesScript: ['git config --global http.version HTTP/1.1', 'echo a', 'echo b'],
    });
    const none = jobs.find((job) => job.name === 'none');
    assert.ok(none && !('hooks' in none), 'a job without hooks carries none');
  });

  it('takes default:hooks unless the job has its own or inherit:default leaves hooks out', async () => {
    const jobs = await plannedJobs(`
default:
  hooks:
    pre_get_sources_script: [echo default]
inherits:
  script: [build]
own:
  hooks:
    pre_get_sources_script: [echo own]
  script: [build]
emptied:
  hooks:
    pre_get_sources_script: []
  script: [build]
no-defaults:
  inherit:
    default: false
  script: [build]
others-only:
  inherit:
    default: [before_script]
  script: [build]
listed:
  inherit:
    default: [hooks]
  script: [build]
`);
    const hooksOf = (name: string) => jobs.find((job) => job.name === name)?.hooks?.preGetSourcesScript;
    assert.deepEqual(hooksOf('inherits'), ['echo default']);
    assert.deepEqual(hooksOf('own'), ['echo own']);
    assert.equal(hooksOf('emptied'), undefined, 'its own empty list replaces the default');
    assert.equal(hooksOf('no-defaults'), undefined);
    assert.equal(hooksOf('others-only'), undefined);
    assert.deepEqual(hooksOf('listed'), ['echo default']);
  });

  it('refuses a hook name it does not know, naming it, and bad commands, with path and line', async () => {
    const problems = await problemsOf(`build:
  script: [build]
  hooks:
    pre_get_sources_script: [echo ok]
    post_get_sources_script: [echo no]
test:
  script: [test]
  hooks:
    pre_get_sources_script:
      - echo ok
      - { not: a command }
lint:
  script: [lint]
  hooks: [echo]
default:
  hooks:
    pre_get_sources_script: 12.5
    pre_build_script: x
`);
    const find = (path: string) => problems.find((problem) => problem.path === path);
    const unknown = find('jobs.build.hooks.post_get_sources_script');
    assert.ok(unknown, JSON.stringify(problems));
    assert.match(
      unknown.message,
      /"post_get_sources_script" is not a hook; the hooks are pre_get_sources_script/,
    );
    assert.equal(unknown.line, 5);
    const command = find('jobs.test.hooks.pre_get_sources_script[1]');
    assert.ok(command, JSON.stringify(problems));
    assert.match(command.message, /must be a command \(a string\)/);
    assert.equal(command.line, 11);
    const shape = find('jobs.lint.hooks');
    assert.ok(shape, JSON.stringify(problems));
    assert.match(shape.message, /must be \{ pre_get_sources_script: \[commands\] \}/);
    assert.equal(shape.line, 14);
    const defaultUnknown = find('default.hooks.pre_build_script');
    assert.ok(defaultUnknown, JSON.stringify(problems));
    assert.equal(defaultUnknown.line, 18);
    // A number is a command, as in script:.
    assert.equal(find('default.hooks.pre_get_sources_script'), undefined);
  });

  it('is not allowed in a trigger job', async () => {
    const problems = await problemsOf(`deploy:
  trigger: group/project
  hooks:
    pre_get_sources_script: [echo no]
`);
    const problem = problems.find((entry) => entry.path === 'jobs.deploy.hooks');
    assert.ok(problem, JSON.stringify(problems));
    assert.match(problem.message, /not allowed in a trigger job/);
  });

  it('keeps the other default keywords an inherit:default list names (image, services, artifacts, cache)', async () => {
    const jobs = await plannedJobs(`
default:
  image: alpine:3.20
  services: [postgres:16]
  artifacts: { paths: [out/] }
  cache: { paths: [vendor/] }
  hooks:
    pre_get_sources_script: [echo default]
listed:
  inherit:
    default: [image, services, artifacts, cache]
  script: [build]
`);
    const listed = jobs.find((job) => job.name === 'listed');
    assert.equal(listed?.image?.name, 'alpine:3.20');
    assert.equal(listed?.services?.[0]?.name, 'postgres:16');
    assert.deepEqual(listed?.artifacts?.paths, ['out/']);
    assert.deepEqual(listed?.cache[0]?.paths, ['vendor/']);
    assert.equal(listed?.hooks, undefined);
  });
});
