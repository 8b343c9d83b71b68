// The GitLab dialect corpus: one configuration per construct (spec:inputs, include:inputs,
// parallel, matrix, …), each saying in comments what it must give:
//   # job: NAME              the planned jobs, in order (a push pipeline on main)
//   # var: JOB => KEY=VALUE  a variable of a planned job
//   # changed: PATH …        the paths the push changed (rules:changes); without it, changes is true
//   # files: PATH …          the commit's files (rules:exists); without it, exists is true
//   # error: PATH @ LINE     an error the file must get (then it must be refused)
//   # error-count: N         exactly N errors
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTesseraError } from '../../src/errors.js';
import type { ConfigProblem } from '../../src/pipeline/config-problem.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { planPipeline } from '../../src/pipeline/plan.js';
import { createDirectoryLister, createDirectoryReader } from '../../src/pipeline/read-directory-file.js';
import { buildRuleVariables } from '../../src/pipeline/rule-variables.js';

const directory = fileURLToPath(new URL('./fixtures/dialect/', import.meta.url));
const fixtures = readdirSync(directory)
  .filter((name) => name.endsWith('.yml'))
  .sort();

function matchesPath(problem: ConfigProblem, path: string): boolean {
  return problem.path === path || problem.path.startsWith(`${path}.`) || problem.path.startsWith(`${path}[`);
}

describe('pipeline dialect corpus', () => {
  it('has a fixture per construct', () => {
    assert.ok(fixtures.length >= 10, fixtures.join(', '));
  });

  for (const name of fixtures) {
    const content = readFileSync(join(directory, name), 'utf8');
    const expectedErrors = [...content.matchAll(/^# error: (\S+)(?: @ (\d+))?$/gm)].map((match) => ({
      path: match[1]!,
      line: match[2] === undefined ? null : Number(match[2]),
    }));
    const load = () =>
      loadPipeline({
        content,
        readLocalFile: createDirectoryReader(directory),
        listLocalFiles: createDirectoryLister(directory),
        variables: buildRuleVariables({ ref: 'main', tag: false, source: 'push' }),
      });

    if (expectedErrors.length > 0) {
      it(`refuses ${name} with every expected error`, async () => {
        await assert.rejects(load(), (error: unknown) => {
          assert.ok(isTesseraError(error) && error.code === 'ERR_PIPELINE_INVALID', String(error));
          const errors = (error.details?.errors ?? []) as ConfigProblem[];
          for (const { path, line } of expectedErrors) {
            const found = errors.filter((problem) => matchesPath(problem, path));
            assert.ok(
              found.length > 0,
              `expected an error at ${path}; got ${JSON.stringify(errors, null, 1)}`,
            );
            if (line !== null) {
              assert.ok(
                found.some((problem) => problem.line === line),
                `expected ${path} at line ${line}; got ${JSON.stringify(found)}`,
              );
            }
          }
          const count = /^# error-count: (\d+)$/m.exec(content);
          if (count !== null) assert.equal(errors.length, Number(count[1]), JSON.stringify(errors, null, 1));
          for (const problem of errors) assert.doesNotMatch(problem.message, /parseAllDocuments/);
          return true;
        });
      });
      continue;
    }

    it(`loads ${name} and plans the expected jobs`, async () => {
      const { spec } = await load();
      const changed = /^# changed:(.*)$/m.exec(content);
      const files = /^# files:(.*)$/m.exec(content);
      const words = (text: string) =>
        text
          .trim()
          .split(/\s+/)
          .filter((word) => word !== '');
      const plan = planPipeline(spec, buildRuleVariables({ ref: 'main', tag: false, source: 'push' }), {
        changedPaths: new Map(changed === null ? [] : [['', words(changed[1]!)]]),
        repositoryPaths: files === null ? null : words(files[1]!),
      });
      const expectedJobs = [...content.matchAll(/^# job: (.+)$/gm)].map((match) => match[1]!);
      assert.deepEqual(
        plan.jobs.map((job) => job.name),
        expectedJobs,
      );
      for (const match of content.matchAll(/^# var: (.+?) => ([A-Za-z0-9_]+)=(.*)$/gm)) {
        const job = plan.jobs.find((candidate) => candidate.name === match[1]);
        assert.ok(job !== undefined, `job ${match[1]}`);
        assert.equal(job.variables[match[2]!], match[3], `${match[1]} ${match[2]}`);
      }
    });
  }
});
