import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTesseraError } from '../../src/errors.js';
import type { ConfigProblem } from '../../src/pipeline/config-problem.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { planPipeline } from '../../src/pipeline/plan.js';
import { createDirectoryReader } from '../../src/pipeline/read-directory-file.js';
import { buildRuleVariables, type PipelineSource } from '../../src/pipeline/rule-variables.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(join(fixtures, dir))
    .filter((name) => name.endsWith('.yml'))
    .sort();
}

/** `# plan: ref=main tag=true source=schedule var=K=V => job job…` lines of a fixture. */
function planExpectations(content: string) {
  return [...content.matchAll(/^# plan: (.*?)=>(.*)$/gm)].map((match) => {
    const settings = new Map<string, string>();
    const vars: Record<string, string> = {};
    for (const word of match[1]!.trim().split(/\s+/)) {
      const at = word.indexOf('=');
      const key = word.slice(0, at);
      if (key === 'var') {
        const rest = word.slice(at + 1);
        const eq = rest.indexOf('=');
        vars[rest.slice(0, eq)] = rest.slice(eq + 1);
      } else settings.set(key, word.slice(at + 1));
    }
    return {
      label: match[0],
      ref: settings.get('ref') ?? 'main',
      tag: settings.get('tag') === 'true',
      source: (settings.get('source') ?? 'push') as PipelineSource,
      vars,
      jobs: match[2]!
        .trim()
        .split(/\s+/)
        .filter((name) => name !== ''),
    };
  });
}

function matchesPath(problem: ConfigProblem, path: string): boolean {
  return problem.path === path || problem.path.startsWith(`${path}.`) || problem.path.startsWith(`${path}[`);
}

describe('pipeline corpus: valid files', () => {
  for (const name of yamlFiles('valid')) {
    it(`loads ${name} and plans the expected jobs`, async () => {
      const content = readFileSync(join(fixtures, 'valid', name), 'utf8');
      const { spec, warnings } = await loadPipeline({
        content,
        readLocalFile: createDirectoryReader(join(fixtures, 'valid')),
      });
      assert.ok(Object.isFrozen(spec) && Object.isFrozen(spec.jobs));
      for (const match of content.matchAll(/^# warn: (\S+)$/gm)) {
        assert.ok(
          warnings.some((warning) => matchesPath(warning, match[1]!)),
          `expected a warning at ${match[1]}, got ${JSON.stringify(warnings)}`,
        );
      }
      for (const expected of planExpectations(content)) {
        const variables = {
          ...buildRuleVariables({ ref: expected.ref, tag: expected.tag, source: expected.source }),
          ...expected.vars,
        };
        const plan = planPipeline(spec, variables);
        assert.deepEqual(
          plan.jobs.map((job) => job.name),
          expected.jobs,
          expected.label,
        );
        if (expected.jobs.length === 0 && content.includes('workflow:')) assert.equal(plan.created, false);
      }
    });
  }
});

describe('pipeline corpus: invalid files', () => {
  for (const name of yamlFiles('invalid')) {
    it(`refuses ${name} with every expected error`, async () => {
      const content = readFileSync(join(fixtures, 'invalid', name), 'utf8');
      const expected = [...content.matchAll(/^# error: (\S+)(?: @ (\d+))?$/gm)].map((match) => ({
        path: match[1]!,
        line: match[2] === undefined ? null : Number(match[2]),
      }));
      assert.ok(expected.length > 0, 'fixture lists its expected errors');
      await assert.rejects(
        loadPipeline({ content, readLocalFile: createDirectoryReader(join(fixtures, 'invalid')) }),
        (error: unknown) => {
          assert.ok(isTesseraError(error));
          assert.equal(error.code, 'ERR_PIPELINE_INVALID');
          const errors = (error.details?.errors ?? []) as ConfigProblem[];
          assert.match(
            error.message,
            new RegExp(`^${errors.length} errors? in \\.gitlab-ci\\.yml: first one `),
          );
          for (const { path, line } of expected) {
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
          for (const problem of errors) {
            assert.ok(problem.message.length > 10, `message says what to fix: ${problem.message}`);
          }
          return true;
        },
      );
    });
  }
});
