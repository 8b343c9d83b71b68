/**
 * Benchmark: loadPipeline + planPipeline on a generated 2,000-job `.gitlab-ci.yml` (anchors and
 * merge keys, extends chains, rules with regexes, needs), against the `yaml` package's plain
 * `parse` of the same text in the same run. Rounds alternate the order of the two; the report
 * gives the median time of each and the median of the per-round ratios.
 *
 * Run alone: `node --import tsx bench/pipeline-parse.bench.ts`.
 */
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { loadPipeline } from '../src/pipeline/load.js';
import { planPipeline } from '../src/pipeline/plan.js';
import { buildRuleVariables } from '../src/pipeline/rule-variables.js';

const JOBS = 2000;
const ROUNDS = 9;

function generate(jobs: number): string {
  const lines = [
    'stages: [build, test, package, deploy]',
    'variables:',
    '  GLOBAL_FLAG: "1"',
    'default:',
    '  retry: 1',
    '  interruptible: true',
    'workflow:',
    '  rules:',
    '    - if: $CI_COMMIT_MESSAGE =~ /\\[skip ci\\]/',
    '      when: never',
    '    - when: always',
    '.defaults: &defaults',
    '  tags: [linux, docker]',
    '  timeout: 30 minutes',
    '.base:',
    '  <<: *defaults',
    '  before_script:',
    '    - echo preparing',
    '  variables:',
    '    BASE: "1"',
    '.test-base:',
    '  extends: .base',
    '  stage: test',
    '  rules:',
    '    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH || $CI_COMMIT_TAG =~ /^v\\d+\\.\\d+/',
    '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"',
    '      when: manual',
  ];
  const per = jobs / 4;
  for (let i = 0; i < jobs; i += 1) {
    const group = Math.floor(i / per);
    const name = `job-${i}`;
    lines.push(`${name}:`);
    if (group === 0) {
      lines.push('  extends: .base', '  stage: build', '  script:', `    - make component-${i}`);
    } else if (group === 1) {
      lines.push('  extends: .test-base', '  script:', `    - make test-${i}`, `  needs: [job-${i - per}]`);
    } else if (group === 2) {
      lines.push(
        '  <<: *defaults',
        '  stage: package',
        `  script: make package-${i}`,
        `  needs: [job-${i - per}, {job: job-${i - 2 * per}, optional: true}]`,
        '  rules:',
        `    - if: $CI_COMMIT_REF_NAME =~ /^(main|release\\/.*)$/ && $SKIP_${i} != "true"`,
      );
    } else {
      lines.push(
        '  extends: .base',
        '  stage: deploy',
        `  script: ./deploy.sh ${i}`,
        '  environment:',
        `    name: env-${i}`,
        '  id_tokens:',
        '    VAULT_ID_TOKEN:',
        '      aud: https://vault.example.com',
        '  only: [main, /^release-/]',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const text = generate(JOBS);
const variables = buildRuleVariables({ ref: 'main', tag: false, source: 'push' });

async function ours(): Promise<number> {
  const { spec } = await loadPipeline({ content: text });
  return planPipeline(spec, variables).jobs.length;
}

function baseline(): number {
  // Same YAML work as ours: merge keys on, and no alias cap (yaml's default refuses 100+ aliases).
  return Object.keys(parse(text, { merge: true, maxAliasCount: -1 }) as object).length;
}

async function time(run: () => unknown): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

// Warm-up (JIT), discarded; also checks the plan is what the generator meant.
const planned = await ours();
baseline();
const timesOurs: number[] = [];
const timesYaml: number[] = [];
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  let a: number;
  let b: number;
  if (round % 2 === 0) {
    a = await time(ours);
    b = await time(baseline);
  } else {
    b = await time(baseline);
    a = await time(ours);
  }
  timesOurs.push(a);
  timesYaml.push(b);
  ratios.push(a / b);
}
console.log(
  `pipeline-parse: ${JOBS}-job file (${(text.length / 1024).toFixed(0)} KiB), ${planned} jobs planned, ${ROUNDS} rounds`,
);
console.log(`  yaml.parse (baseline)          median ${median(timesYaml).toFixed(1)} ms`);
console.log(`  loadPipeline + planPipeline    median ${median(timesOurs).toFixed(1)} ms`);
console.log(`  ratio (median of per-round ratios): ${median(ratios).toFixed(2)}x yaml.parse`);
