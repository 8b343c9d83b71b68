import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isTesseraError } from '../../src/errors.js';
import type { ConfigProblem } from '../../src/pipeline/config-problem.js';
import { PIPELINE_LIMITS } from '../../src/pipeline/limits.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { planPipeline } from '../../src/pipeline/plan.js';
import { buildRuleVariables } from '../../src/pipeline/rule-variables.js';

async function refusal(
  content: string,
  readLocalFile?: (path: string) => Promise<string | undefined>,
): Promise<ConfigProblem[]> {
  try {
    await loadPipeline(readLocalFile === undefined ? { content } : { content, readLocalFile });
  } catch (error) {
    assert.ok(isTesseraError(error), `only TesseraError escapes, got ${String(error)}`);
    assert.equal(error.code, 'ERR_PIPELINE_INVALID');
    return error.details?.errors as ConfigProblem[];
  }
  return assert.fail('the file was accepted');
}

describe('pipeline loader: hostile input', () => {
  it('refuses a billion-laughs alias bomb fast', async () => {
    const lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i <= 9; i += 1) {
      lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
    }
    lines.push('job:', '  script: [*a9]');
    const errors = await refusal(lines.join('\n'));
    assert.match(errors[0]!.message, /expands to more than/);
  });

  it('refuses aliases that multiply a long anchored string, by the bytes they would copy', async () => {
    const anchored = 'x'.repeat(127 * 1024);
    const file = (aliases: number) =>
      `.big: &big "${anchored}"\njob:\n  script:\n${'    - *big\n'.repeat(aliases)}`;
    for (const aliases of [1_500, 19_000]) {
      const errors = await refusal(file(aliases));
      assert.match(errors[0]!.message, /aliases expand to more than 4194304 bytes/);
      assert.equal(
        errors[0]!.line,
        3 + Math.floor(PIPELINE_LIMITS.maxAliasExpandedBytes / anchored.length) + 1,
      );
    }
    // Well under the limit, the same anchor is fine.
    const { spec } = await loadPipeline({ content: file(5) });
    assert.equal(spec.jobs[0]!.script.length, 5);
  });

  it('bounds the stored spec of a job and of a pipeline that extends and default multiply', async () => {
    const long = 'y'.repeat(100 * 1024);
    const references = Array.from({ length: 11 }, () => '!reference [.t, s]').join(', ');
    const jobErrors = await refusal(`.t:\n  s: ["${long}"]\njob:\n  script: [${references}]\n`);
    assert.equal(jobErrors[0]!.path, 'jobs.job');
    assert.equal(jobErrors[0]!.line, 3);
    assert.match(jobErrors[0]!.message, /larger than 1048576 bytes .*limit on one job/);
    const defaults = `default:\n  before_script: ["${long}"]\n`;
    const jobs = Array.from({ length: 400 }, (_, i) => `j${i}: {script: x}`).join('\n');
    const pipelineErrors = await refusal(`${defaults}${jobs}\n`);
    assert.match(pipelineErrors[0]!.message, /larger than 33554432 bytes .*limit on one pipeline/);
  });

  it('refuses job names with NUL, CR/LF or bidirectional formatting characters, with the path and line', async () => {
    const errors = await refusal(
      'ok:\n  script: x\n"deploy\\u202Eprod":\n  script: x\n"two\\r\\nlines":\n  script: x\n"nul\\0":\n  script: x\n"\\u200Fmark":\n  script: x\n',
    );
    assert.deepEqual(
      errors.map((problem) => [
        problem.path,
        problem.line,
        /must not contain control characters/.test(problem.message),
      ]),
      [
        ['jobs.deploy\\u202Eprod', 3, true],
        ['jobs.two\\u000D\\u000Alines', 5, true],
        ['jobs.nul\\u0000', 7, true],
        ['jobs.\\u200Fmark', 9, true],
      ],
    );
    assert.match(errors[0]!.message, /this one has U\+202E$/);
  });

  it('refuses deep nesting', async () => {
    const errors = await refusal(`job:\n  script: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    assert.ok(errors.some((problem) => /deep/.test(problem.message)));
    await refusal(`${'x: '.repeat(200)}y`);
    let block = 'job:\n';
    for (let i = 1; i < 200; i += 1) block += `${'  '.repeat(i)}k${i}:\n`;
    const blockErrors = await refusal(block);
    assert.ok(blockErrors.some((problem) => /nests deeper/.test(problem.message)));
  });

  it('refuses a file larger than the limit', async () => {
    const errors = await refusal(`job:\n  script: "${'x'.repeat(PIPELINE_LIMITS.maxFileBytes)}"\n`);
    assert.match(errors[0]!.message, /larger than/);
  });

  it('refuses more jobs than the limit and accepts a 2,000-job file', async () => {
    const many = Array.from({ length: PIPELINE_LIMITS.maxJobs + 1 }, (_, i) => `j${i}: {script: x}`).join(
      '\n',
    );
    const errors = await refusal(many);
    assert.match(errors[0]!.message, /at most/);
    const fine = Array.from({ length: 2000 }, (_, i) => `j${i}: {script: x}`).join('\n');
    const { spec } = await loadPipeline({ content: fine });
    assert.equal(spec.jobs.length, 2000);
  });

  it('refuses too many aliases', async () => {
    const content = `x: &x 1\nj:\n  script: x\n  variables:\n${Array.from({ length: PIPELINE_LIMITS.maxAliases + 1 }, (_, i) => `    V${i}: *x`).join('\n')}\n`;
    if (Buffer.byteLength(content) <= PIPELINE_LIMITS.maxFileBytes) {
      const errors = await refusal(content);
      assert.ok(errors.some((problem) => /aliases/.test(problem.message)));
    }
  });

  it('refuses a string longer than the limit', async () => {
    const errors = await refusal(`j:\n  script: "${'y'.repeat(PIPELINE_LIMITS.maxStringLength + 1)}"\n`);
    assert.ok(errors.some((problem) => /longer than/.test(problem.message)));
  });

  it('stops self-referencing !reference and extends chains', async () => {
    const references = await refusal(
      '.a:\n  script: !reference [.a, script]\nj:\n  script: !reference [.a, script]\n',
    );
    assert.ok(references.some((problem) => /reference/.test(problem.message)));
    const chain = Array.from({ length: 20 }, (_, i) => `.t${i}:\n  extends: .t${i + 1}`).join('\n');
    const chainErrors = await refusal(`${chain}\n.t20:\n  script: x\nj:\n  extends: .t0\n`);
    assert.ok(chainErrors.some((problem) => /deeper than/.test(problem.message)));
  });

  it('refuses include cycles and path escapes without reading outside the repository', async () => {
    const read: string[] = [];
    const files: Record<string, string> = {
      'a.yml': 'include: b.yml\na: {script: a}',
      'b.yml': 'include: a.yml\nb: {script: b}',
    };
    const { spec } = await loadPipeline({
      content: 'include: a.yml\nmain: {script: m}',
      readLocalFile: async (path) => {
        read.push(path);
        return files[path];
      },
    });
    assert.deepEqual(spec.jobs.map((job) => job.name).sort(), ['a', 'b', 'main']);
    assert.deepEqual(read, ['a.yml', 'b.yml']);
    const errors = await refusal('include: ../../etc/passwd.yml\nj: {script: x}', async () => 'x: 1');
    assert.match(errors[0]!.message, /leaves the repository/);
  });

  it('bounds the work that extends and !reference copies multiply', async () => {
    const template = `.t:\n  script: x\n  variables:\n${Array.from({ length: 3000 }, (_, i) => `    V${i}: x`).join('\n')}\n`;
    const jobs = Array.from({ length: 400 }, (_, i) => `j${i}: {extends: .t}`).join('\n');
    const errors = await refusal(template + jobs);
    assert.match(errors[0]!.message, /after extends and !reference/);
  });

  it('bounds !reference splices and extends merges that a template multiplies', async () => {
    const list = `.t:\n  s:\n${Array.from({ length: 3000 }, (_, i) => `    - x${i}`).join('\n')}\n`;
    const spliced = Array.from({ length: 400 }, (_, i) => `j${i}: {script: [!reference [.t, s]]}`).join('\n');
    // A referenced list stays nested in a script (as GitLab), so the bound that stops it is the
    // schema pass's count of expanded nodes.
    assert.match((await refusal(list + spliced))[0]!.message, /extends and !reference/);
    const wide = `.w:\n${Array.from({ length: 3000 }, (_, i) => `  k${i}: x`).join('\n')}\n`;
    const merged = Array.from({ length: 400 }, (_, i) => `j${i}: {extends: .w, script: x}`).join('\n');
    assert.match((await refusal(wide + merged))[0]!.message, /include, extends and !reference/);
  });

  it('keeps names such as __proto__ as plain entries', async () => {
    const { spec } = await loadPipeline({
      content:
        'variables: {__proto__: polluted}\nj:\n  script: x\n  variables: {__proto__: x}\n  id_tokens: {__proto__: {aud: a}}\n',
    });
    const plan = planPipeline(spec, buildRuleVariables({ ref: 'main', tag: false, source: 'push' }));
    assert.equal(Object.getPrototypeOf(spec.variables), Object.prototype);
    assert.deepEqual(Object.keys(spec.variables), ['__proto__']);
    assert.deepEqual(Object.keys(plan.jobs[0]!.variables), ['__proto__']);
    assert.deepEqual(Object.keys(plan.jobs[0]!.idTokens), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('collects every error, not only the first, and caps the list', async () => {
    const content = Array.from({ length: 500 }, (_, i) => `j${i}: {script: x, when: bad}`).join('\n');
    const errors = await refusal(content);
    assert.equal(errors.length, PIPELINE_LIMITS.maxErrors + 1);
    assert.match(errors.at(-1)!.message, /more errors not shown/);
  });

  it('never throws anything but TesseraError on arbitrary YAML-ish text', async () => {
    const tokens = fc.constantFrom(
      'job:',
      'script:',
      ' - x',
      '\n',
      '  ',
      '&a',
      '*a',
      '<<:',
      '!reference [a, b]',
      'extends:',
      'needs:',
      '[',
      ']',
      '{',
      '}',
      ',',
      ':',
      '"',
      "'",
      'rules:',
      '- if: $X == "y"',
      'stage: test',
      'include:',
      '?',
      '|',
      '>',
      '#',
      'when: manual',
      '.h:',
      '!!binary',
      'variables:',
      'id_tokens:',
      'aud:',
      'null',
      '~',
      '2',
      'true',
      'stages: [a]',
      '---',
      '...',
      '%YAML 1.2',
      '\t',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(tokens, { maxLength: 60 }).map((parts) => parts.join(' ')),
        ),
        async (text) => {
          try {
            const { spec } = await loadPipeline({
              content: text,
              readLocalFile: async () => 'j: {script: x}',
            });
            planPipeline(spec, buildRuleVariables({ ref: 'main', tag: false, source: 'push' }));
          } catch (error) {
            if (!isTesseraError(error)) throw error;
            assert.equal(error.code, 'ERR_PIPELINE_INVALID');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
