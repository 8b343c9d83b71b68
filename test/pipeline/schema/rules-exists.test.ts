// rules:exists with project and ref (GitLab 17.0): the schema's errors (paths and lines), and the
// planner reading other projects' files only for the rules it reaches, once per (project, ref),
// with variables expanded, a listing error at the project key, and the 10,000-comparison bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../../src/errors.js';
import { IncludeSourceError } from '../../../src/pipeline/include-sources.js';
import { loadPipeline } from '../../../src/pipeline/load.js';
import { planPipeline, planPipelineReading, type ReadProjectFiles } from '../../../src/pipeline/plan.js';
import { buildRuleVariables } from '../../../src/pipeline/rule-variables.js';

type Problem = { path: string; message: string; line: number | null };

async function problemsOf(run: () => Promise<unknown>): Promise<Problem[]> {
  try {
    await run();
  } catch (error) {
    if (isTesseraError(error) && error.code === 'ERR_PIPELINE_INVALID')
      return (error.details as { errors: Problem[] }).errors;
    throw error;
  }
  return [];
}

const variables = buildRuleVariables({ ref: 'main', tag: false, source: 'push' });
const noFiles = { changedPaths: new Map(), repositoryPaths: [] };

/** A reader over fixed listings by `project@ref` (`project@` for the default branch), counting reads. */
function projects(listings: Record<string, readonly string[]>): { read: ReadProjectFiles; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    read: async (project, ref) => {
      const key = `${project}@${ref ?? ''}`;
      reads.push(key);
      const files = listings[key];
      if (files === undefined)
        throw new IncludeSourceError(`project "${project}" not found, or dev may not read it`);
      return files;
    },
  };
}

async function plannedJobs(content: string, read: ReadProjectFiles, extra: Record<string, string> = {}) {
  const { spec } = await loadPipeline({ content });
  const plan = await planPipelineReading(spec, { ...variables, ...extra }, noFiles, read);
  return { created: plan.created, jobs: plan.jobs.map((job) => job.name) };
}

describe('rules:exists:project and rules:exists:ref (schema)', () => {
  it('refuses ref without project, a project that is not a path, unknown keys, missing paths', async () => {
    const problems = await problemsOf(() =>
      loadPipeline({
        content: `build:
  script: [x]
  rules:
    - exists:
        paths: [Dockerfile]
        ref: main
    - exists:
        paths: [Dockerfile]
        project: [acme/templates]
        file: Dockerfile
    - exists:
        project: acme/templates
    - exists:
        paths: [Dockerfile]
        project: ''
workflow:
  rules:
    - exists: { paths: [a], project: acme/t, ref: { name: main } }
`,
      }),
    );
    assert.deepEqual(
      problems.map(({ path, line }) => [path, line]),
      [
        ['jobs.build.rules[0].exists.ref', 6],
        ['jobs.build.rules[1].exists.project', 9],
        ['jobs.build.rules[1].exists.file', 10],
        ['jobs.build.rules[2].exists.paths', 12],
        ['jobs.build.rules[3].exists.project', 15],
        ['workflow.rules[0].exists.ref', 18],
      ],
      JSON.stringify(problems),
    );
    const message = (path: string) => problems.find((problem) => problem.path === path)?.message ?? '';
    assert.match(message('jobs.build.rules[0].exists.ref'), /goes with exists:project only/);
    assert.match(message('jobs.build.rules[1].exists.project'), /full project path.*not a list/);
    assert.match(message('jobs.build.rules[1].exists.file'), /unknown keyword "file".*paths, project, ref/);
    assert.match(message('jobs.build.rules[2].exists.paths'), /is required/);
    assert.match(message('jobs.build.rules[3].exists.project'), /it is empty/);
    assert.match(message('workflow.rules[0].exists.ref'), /branch, a tag or a commit SHA, not a mapping/);
  });

  it('accepts project (variables kept for planning) with and without ref, in job and workflow rules', async () => {
    const { spec } = await loadPipeline({
      content: `workflow:
  rules:
    - exists: { paths: [a], project: acme/t }
build:
  script: [x]
  rules:
    - exists:
        paths: [Dockerfile]
        project: $TEMPLATES
        ref: v1.0.0
`,
    });
    assert.deepEqual(spec.jobs[0]?.rules?.[0]?.exists, {
      paths: ['Dockerfile'],
      project: '$TEMPLATES',
      ref: 'v1.0.0',
      at: { path: 'jobs.build.rules[0].exists.project', line: 9, file: '.gitlab-ci.yml' },
    });
    assert.equal(spec.workflowRules?.[0]?.exists?.ref, null);
  });
});

describe('rules:exists:project (planning)', () => {
  const config = `build:
  script: [x]
  rules:
    - exists:
        paths: [Dockerfile]
        project: acme/$TEMPLATE_NAME
        ref: $TEMPLATE_REF
default-ref:
  script: [x]
  rules:
    - exists: { paths: ['**/*.md'], project: acme/templates }
`;

  it('includes a job when a file exists in the other project at the ref, expanding variables', async () => {
    const listings = {
      'acme/templates@v1': ['Dockerfile'],
      'acme/templates@v2': ['src/main.c'],
      'acme/templates@': ['docs/README.md'],
    };
    const v1 = projects(listings);
    assert.deepEqual(
      (await plannedJobs(config, v1.read, { TEMPLATE_NAME: 'templates', TEMPLATE_REF: 'v1' })).jobs,
      ['build', 'default-ref'],
    );
    assert.deepEqual(v1.reads, ['acme/templates@v1', 'acme/templates@']);
    const v2 = projects(listings);
    assert.deepEqual(
      (await plannedJobs(config, v2.read, { TEMPLATE_NAME: 'templates', TEMPLATE_REF: 'v2' })).jobs,
      ['default-ref'],
    );
  });

  it('reads each (project, ref) once, and only for the rules it reaches', async () => {
    const reader = projects({ 'acme/t@': ['a'] });
    const { jobs } = await plannedJobs(
      `one:
  script: [x]
  rules:
    - exists: { paths: [a], project: acme/t }
two:
  script: [x]
  rules:
    - exists: { paths: [b], project: acme/t }
    - when: always
unreached:
  script: [x]
  rules:
    - if: $NOT_SET
      exists: { paths: [a], project: acme/never-read }
empty:
  script: [x]
  rules:
    - exists: { paths: [], project: acme/never-read-either }
    - when: manual
`,
      reader.read,
    );
    assert.deepEqual(jobs, ['one', 'two', 'empty']);
    assert.deepEqual(reader.reads, ['acme/t@']);
  });

  it('applies to workflow rules', async () => {
    const workflow = `workflow:
  rules:
    - exists: { paths: [.ci-enabled], project: acme/policy, ref: main }
build:
  script: [x]
`;
    assert.equal(
      (await plannedJobs(workflow, projects({ 'acme/policy@main': ['.ci-enabled'] }).read)).created,
      true,
    );
    assert.equal(
      (await plannedJobs(workflow, projects({ 'acme/policy@main': ['other'] }).read)).created,
      false,
    );
  });

  it('answers an unreadable project with the reader’s message at the project key, variables unshown', async () => {
    const { spec } = await loadPipeline({
      content: `build:
  script: [x]
  rules:
    - exists:
        paths: [Dockerfile]
        project: $SECRET_PROJECT
`,
    });
    const problems = await problemsOf(() =>
      planPipelineReading(spec, { ...variables, SECRET_PROJECT: 'hidden/vault' }, noFiles, projects({}).read),
    );
    assert.deepEqual(problems, [
      {
        path: 'jobs.build.rules[0].exists.project',
        message:
          'rules:exists cannot look in project "$SECRET_PROJECT" (with its variables expanded): project "hidden/vault" not found, or dev may not read it',
        line: 6,
      },
    ]);
  });

  it('lets an error that is not the configuration’s go up as it is', async () => {
    const { spec } = await loadPipeline({ content: config });
    await assert.rejects(
      planPipelineReading(spec, variables, noFiles, async () => {
        throw new TypeError('store unreachable');
      }),
      { name: 'TypeError', message: 'store unreachable' },
    );
  });

  it('counts as true past GitLab’s 10,000 comparisons, as the own project’s exists', async () => {
    const many = Array.from({ length: 10_001 }, (_, index) => `file-${index}.txt`);
    const { jobs } = await plannedJobs(
      `big:
  script: [x]
  rules:
    - exists: { paths: ['**/*.absent'], project: acme/big }
`,
      projects({ 'acme/big@': many }).read,
    );
    assert.deepEqual(jobs, ['big']);
  });

  it('is an error where a planner reads no other project (planPipeline without a reader)', async () => {
    const { spec } = await loadPipeline({ content: config });
    const problems = await problemsOf(async () => planPipeline(spec, variables, noFiles));
    assert.equal(problems[0]?.path, 'jobs.build.rules[0].exists.project');
    assert.equal(problems[0]?.line, 6);
    assert.match(problems[0]?.message ?? '', /other projects are not read here/);
  });
});
