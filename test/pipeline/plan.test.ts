import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.js';
import type { ConfigProblem } from '../../src/pipeline/config-problem.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { planPipeline } from '../../src/pipeline/plan.js';
import { buildRuleVariables } from '../../src/pipeline/rule-variables.js';

const branch = (ref: string, extra: Record<string, string> = {}) => ({
  ...buildRuleVariables({ ref, tag: false, source: 'push' }),
  ...extra,
});

async function plan(content: string, variables = branch('main')) {
  const { spec } = await loadPipeline({ content });
  return planPipeline(spec, variables);
}

describe('planPipeline', () => {
  it('orders jobs by stage, then file order, with .pre first and .post last', async () => {
    const result = await plan(`
stages: [build, test]
t2: {stage: test, script: x}
post: {stage: .post, script: x}
b1: {stage: build, script: x}
t1: {stage: test, script: x}
pre: {stage: .pre, script: x}
`);
    assert.deepEqual(
      result.jobs.map((job) => [job.name, job.stage, job.stageIndex]),
      [
        ['pre', '.pre', 0],
        ['b1', 'build', 1],
        ['t2', 'test', 2],
        ['t1', 'test', 2],
        ['post', '.post', 3],
      ],
    );
  });

  it('gives manual jobs allow_failure true at job level and false when a rule makes them manual', async () => {
    const result = await plan(`
outside: {script: x, when: manual}
inside: {script: x, rules: [{when: manual}]}
inherited: {script: x, when: manual, rules: [{if: $CI_COMMIT_BRANCH}]}
explicit: {script: x, rules: [{when: manual, allow_failure: true}]}
codes: {script: x, allow_failure: {exit_codes: [3, 4]}}
`);
    const byName = Object.fromEntries(result.jobs.map((job) => [job.name, job]));
    assert.deepEqual([byName.outside?.when, byName.outside?.allowFailure], ['manual', true]);
    assert.deepEqual([byName.inside?.when, byName.inside?.allowFailure], ['manual', false]);
    assert.deepEqual([byName.inherited?.when, byName.inherited?.allowFailure], ['manual', true]);
    assert.equal(byName.explicit?.allowFailure, true);
    assert.deepEqual([byName.codes?.allowFailure, byName.codes?.allowFailureExitCodes], [false, [3, 4]]);
  });

  it('applies workflow and rule variables with the documented precedence', async () => {
    const content = `
variables: {LEVEL: global, KEEP: yaml}
workflow:
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      variables: {LEVEL: workflow, DEPLOY: "yes"}
    - when: always
job:
  variables: {JOB: "1", LEVEL: job}
  script: x
  rules:
    - if: $LEVEL == "job" && $DEPLOY == "yes" && $KEEP == "project"
      variables: {RULE: "1", JOB: "2"}
`;
    const result = await plan(content, branch('main', { KEEP: 'project' }));
    assert.equal(result.created, true);
    assert.deepEqual(result.variables, { LEVEL: 'workflow', KEEP: 'yaml', DEPLOY: 'yes' });
    assert.deepEqual(result.jobs[0]?.variables, { JOB: '2', LEVEL: 'job', RULE: '1' });
    const other = await plan(content, branch('dev', { KEEP: 'project' }));
    assert.deepEqual(other.jobs, []);
    assert.deepEqual(other.variables, { LEVEL: 'global', KEEP: 'yaml' });
  });

  it('creates no pipeline when workflow rules say never or none match', async () => {
    const never = await plan(
      'workflow: {rules: [{if: $CI_COMMIT_TAG, when: never}, {when: always}]}\nj: {script: x}',
      {
        ...buildRuleVariables({ ref: 'v1', tag: true, source: 'push' }),
      },
    );
    assert.deepEqual([never.created, never.jobs.length], [false, 0]);
    const none = await plan('workflow: {rules: [{if: $CI_COMMIT_TAG}]}\nj: {script: x}');
    assert.equal(none.created, false);
  });

  it('leaves out jobs without rules in merge request pipelines (default only: branches, tags)', async () => {
    const content =
      'plain: {script: x}\nmr: {script: x, rules: [{if: $CI_PIPELINE_SOURCE == "merge_request_event"}]}';
    const variables = buildRuleVariables({ ref: 'feature', tag: false, source: 'merge_request_event' });
    assert.equal(variables.CI_COMMIT_BRANCH, undefined);
    assert.deepEqual(
      (await plan(content, variables)).jobs.map((job) => job.name),
      ['mr'],
    );
  });

  it('restricts needs to jobs present, and refuses a non-optional need that rules left out', async () => {
    const content = `
build: {stage: build, script: x, rules: [{if: $CI_COMMIT_BRANCH == "main"}]}
lint: {stage: build, script: x}
test: {script: x, needs: [lint, {job: build, optional: true}]}
deploy: {stage: deploy, script: x, needs: [build]}
`;
    const main = await plan(content);
    assert.deepEqual(main.jobs.find((job) => job.name === 'test')?.needs, ['lint', 'build']);
    const { spec } = await loadPipeline({ content });
    assert.throws(
      () => planPipeline(spec, branch('dev')),
      (error: unknown) => {
        assert.ok(isTesseraError(error));
        assert.equal(error.code, 'ERR_PIPELINE_INVALID');
        const errors = error.details?.errors as ConfigProblem[];
        assert.equal(errors.length, 1);
        assert.equal(errors[0]?.path, 'jobs.deploy.needs[0]');
        assert.equal(errors[0]?.line, 5);
        return true;
      },
    );
  });

  it('carries job settings, defaults and ID tokens into the plan, with aud as written', async () => {
    const result = await plan(`
default:
  timeout: 2h
  tags: [shared]
  id_tokens: {DEFAULT_TOKEN: {aud: https://default}}
deploy:
  stage: deploy
  script: x
  timeout: 45m
  retry: {max: 2, when: script_failure}
  interruptible: true
  environment: {name: prod/$CI_COMMIT_REF_SLUG, url: https://x, deployment_tier: production, action: prepare}
  id_tokens:
    VAULT: {aud: "https://vault/$CI_PROJECT_PATH", ttl: 120, alg: ES256}
  secrets:
    DB: {vault: db/password@secrets}
`);
    const job = result.jobs[0]!;
    assert.equal(job.timeoutSeconds, 2700);
    assert.deepEqual(job.tags, ['shared']);
    assert.deepEqual(job.retry, { max: 2, when: ['script_failure'] });
    assert.equal(job.interruptible, true);
    assert.deepEqual(job.environment, {
      name: 'prod/$CI_COMMIT_REF_SLUG',
      url: 'https://x',
      deploymentTier: 'production',
      action: 'prepare',
    });
    assert.deepEqual(job.idTokens, {
      VAULT: { aud: 'https://vault/$CI_PROJECT_PATH', ttl: 120, alg: 'ES256' },
    });
    assert.deepEqual(job.secrets, {
      DB: {
        vault: { engine: { name: 'kv-v2', path: 'secrets' }, path: 'db', field: 'password' },
        file: true,
        token: '$VAULT',
      },
    });
    assert.equal(job.needs, null);
  });
});

describe('planPipeline: artifacts, cache and dependencies', () => {
  const config = `
stages: [build, test, deploy]
cache: {key: global, paths: [.cache/]}
build: {stage: build, script: x, artifacts: {paths: [dist/], reports: {dotenv: build.env}}}
other: {stage: build, script: x, cache: []}
all: {stage: test, script: x}
none: {stage: test, script: x, dependencies: []}
some: {stage: deploy, script: x, dependencies: [build]}
needs-no-artifacts: {stage: deploy, script: x, needs: [{job: build, artifacts: false}, other]}
`;

  it('downloads from every earlier job by default, from dependencies or from needs otherwise', async () => {
    const result = await plan(config);
    const from = Object.fromEntries(result.jobs.map((job) => [job.name, job.artifactsFrom]));
    assert.deepEqual(from, {
      // The first stage has nothing before it: nothing to read when its jobs are claimed.
      build: [],
      other: [],
      all: null,
      none: [],
      some: ['build'],
      'needs-no-artifacts': ['other'],
    });
  });

  it('carries artifacts and the top-level cache into each job, and cache: [] turns it off', async () => {
    const result = await plan(config);
    const build = result.jobs.find((job) => job.name === 'build')!;
    assert.deepEqual(build.artifacts?.paths, ['dist/']);
    assert.deepEqual(build.artifacts?.reports, { dotenv: ['build.env'] });
    assert.equal(build.artifacts?.when, 'on_success');
    assert.deepEqual(build.cache, [
      {
        key: 'global',
        paths: ['.cache/'],
        untracked: false,
        policy: 'pull-push',
        when: 'on_success',
        fallbackKeys: [],
        unprotect: false,
      },
    ]);
    assert.deepEqual(result.jobs.find((job) => job.name === 'other')!.cache, []);
  });
});

describe('planPipeline: needs:project and needs:pipeline', () => {
  it('keeps them apart from the jobs it waits for, with variables expanded, and artifacts: false left out', async () => {
    const result = await plan(
      `
variables: {UPSTREAM: acme/lib}
stages: [build, test]
build: {stage: build, script: x}
only-cross:
  stage: test
  script: x
  needs:
    - {project: $UPSTREAM, job: build, ref: main, artifacts: true}
    - {pipeline: $PARENT_PIPELINE_ID, job: package}
    - {project: acme/docs, job: site, ref: main, artifacts: false}
mixed: {stage: test, script: x, needs: [build, {project: acme/lib, job: build, ref: $CI_COMMIT_REF_NAME}]}
`,
      branch('main', { PARENT_PIPELINE_ID: '42' }),
    );
    const byName = Object.fromEntries(result.jobs.map((job) => [job.name, job]));
    // Only cross entries: it still waits for the earlier stages and downloads from them.
    assert.equal(byName['only-cross']?.needs, null);
    assert.equal(byName['only-cross']?.artifactsFrom, null);
    assert.deepEqual(byName['only-cross']?.crossNeeds, [
      { source: 'project', from: 'acme/lib', job: 'build', ref: 'main' },
      { source: 'pipeline', from: '42', job: 'package', ref: null },
    ]);
    assert.deepEqual(byName.mixed?.needs, ['build']);
    assert.deepEqual(byName.mixed?.crossNeeds, [
      { source: 'project', from: 'acme/lib', job: 'build', ref: 'main' },
    ]);
    assert.equal(byName.build?.crossNeeds, undefined);
  });

  it('refuses an entry without its required keys, with both project and pipeline, or inside rules:needs', async () => {
    for (const [needs, path, message] of [
      ['[{project: acme/lib, job: build}]', 'jobs.t.needs[0].ref', /is required/],
      ['[{pipeline: "1"}]', 'jobs.t.needs[0].job', /is required/],
      ['[{project: acme/lib, pipeline: "1", job: build, ref: main}]', 'jobs.t.needs[0]', /not both/],
      ['[{pipeline: "1", job: build, ref: main}]', 'jobs.t.needs[0].ref', /./],
    ] as const) {
      await assert.rejects(
        () => plan(`t: {script: x, needs: ${needs}}`),
        (error: unknown) => {
          assert.ok(isTesseraError(error), String(error));
          const errors = error.details?.errors as ConfigProblem[];
          assert.ok(
            errors.some((problem) => problem.path === path && message.test(problem.message)),
            JSON.stringify(errors),
          );
          return true;
        },
      );
    }
    await assert.rejects(
      () => plan('t: {script: x, rules: [{needs: [{project: acme/lib, job: build, ref: main}]}]}'),
      (error: unknown) => {
        assert.ok(isTesseraError(error));
        assert.match(JSON.stringify(error.details?.errors), /does not support yet/);
        return true;
      },
    );
  });

  it("lets the matching rule replace the job's interruptible (rules:interruptible), default included", async () => {
    const content = `
default:
  interruptible: true
plain: {script: x}
cut-off: {script: x, interruptible: false, rules: [{if: $CI_COMMIT_BRANCH == "main", interruptible: true}, {when: on_success}]}
kept: {script: x, rules: [{if: $CI_COMMIT_BRANCH == "main", interruptible: false}, {when: on_success}]}
`;
    const interruptible = async (ref: string) =>
      Object.fromEntries((await plan(content, branch(ref))).jobs.map((job) => [job.name, job.interruptible]));
    assert.deepEqual(await interruptible('main'), { plain: true, 'cut-off': true, kept: false });
    // Another rule matched, which writes no interruptible: the job's own (or default's) stays.
    assert.deepEqual(await interruptible('dev'), { plain: true, 'cut-off': false, kept: true });
  });

  it('lets the matching workflow rule replace what it writes of workflow:auto_cancel', async () => {
    const content = (top: string) => `
workflow:
${top}
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      auto_cancel:
        on_new_commit: none
    - if: $CI_COMMIT_BRANCH == "fail-fast"
      auto_cancel:
        on_job_failure: all
        on_new_commit: conservative
    - when: always
job: {script: x}
`;
    const autoCancel = async (top: string, ref: string) =>
      (await plan(content(top), branch(ref))).jobs[0]?.autoCancel;
    const top = '  auto_cancel:\n    on_new_commit: interruptible\n    on_job_failure: all';
    assert.deepEqual(await autoCancel(top, 'main'), { onNewCommit: 'none', onJobFailure: 'all' });
    assert.deepEqual(await autoCancel(top, 'fail-fast'), {
      onNewCommit: 'conservative',
      onJobFailure: 'all',
    });
    assert.deepEqual(await autoCancel(top, 'dev'), { onNewCommit: 'interruptible', onJobFailure: 'all' });
    // No workflow:auto_cancel: GitLab's defaults under the rule's values, and nothing for other rules.
    assert.deepEqual(await autoCancel('  name: n', 'main'), { onNewCommit: 'none', onJobFailure: 'none' });
    assert.equal(await autoCancel('  name: n', 'dev'), undefined);
  });

  it('carries manual_confirmation into a job that is manual, by itself or by its rule, and warns when never', async () => {
    const content = `
deploy: {script: x, when: manual, manual_confirmation: Deploy to production?}
by-rule:
  script: x
  manual_confirmation: Really?
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
    - when: on_success
never-manual: {script: x, manual_confirmation: Unused}
`;
    const { spec, warnings } = await loadPipeline({ content });
    assert.deepEqual(
      warnings.map((warning) => [warning.path, warning.line]),
      [['jobs.never-manual.manual_confirmation', 10]],
    );
    assert.match(warnings[0]!.message, /has no effect: the job is not when: manual/);
    const confirmations = (ref: string) =>
      Object.fromEntries(
        planPipeline(spec, branch(ref)).jobs.map((job) => [job.name, job.manualConfirmation]),
      );
    assert.deepEqual(confirmations('main'), {
      deploy: 'Deploy to production?',
      'by-rule': 'Really?',
      'never-manual': undefined,
    });
    // The rule that matches on dev does not make the job manual: no confirmation to ask.
    assert.equal(confirmations('dev')['by-rule'], undefined);
  });

  it('refuses manual_confirmation on a trigger job, as GitLab', async () => {
    await assert.rejects(
      () => plan('t:\n  trigger: {include: child.yml}\n  when: manual\n  manual_confirmation: Sure?\n'),
      (error: unknown) => {
        assert.ok(isTesseraError(error), String(error));
        const errors = error.details?.errors as ConfigProblem[];
        assert.deepEqual(
          errors.map((problem) => [problem.path, problem.line]),
          [['jobs.t.manual_confirmation', 4]],
        );
        assert.match(errors[0]!.message, /not allowed in a trigger job: GitLab refuses it there too/);
        return true;
      },
    );
  });
});
