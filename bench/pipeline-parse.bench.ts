/**
 * Benchmark, two parts.
 *
 * 1. loadPipeline + planPipeline on a generated 2,000-job `.gitlab-ci.yml` (anchors and merge
 *    keys, extends chains, rules with regexes, needs), against the `yaml` package's plain `parse`
 *    of the same text in the same run.
 * 2. A real-world-sized configuration (about 25 KB over a main file and three `include:local`
 *    files, 100 job definitions with `extends`, `!reference`, rules, needs and `parallel:matrix`)
 *    in a temporary git repository: `tessera ci lint` as installed (the CLI bundle) against
 *    `gitlab-ci-local --preview` on the same repository, wall time of each command, and
 *    loadPipeline + planPipeline in this process for the share of parsing. Goal (issue 13):
 *    tessera ci lint within 2× of gitlab-ci-local --preview.
 *
 * Rounds alternate the order of the contenders; the report gives the median time of each and the
 * median of the per-round ratios. gitlab-ci-local 4.75 needs Node ≥ 22 (`Set.prototype.union`);
 * on an older Node a polyfill of the ES2025 Set methods is preloaded for it.
 *
 * Run alone: `node --import tsx bench/pipeline-parse.bench.ts`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadPipeline } from '../src/pipeline/load.js';
import { planPipeline } from '../src/pipeline/plan.js';
import { createDirectoryLister, createDirectoryReader } from '../src/pipeline/read-directory-file.js';
import { buildRuleVariables } from '../src/pipeline/rule-variables.js';
import { installedPackage } from '../test/bin/fixtures/installed-package.js';

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

// Part 2: a real-world-sized configuration, tessera ci lint against gitlab-ci-local --preview.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GCL = join(ROOT, 'node_modules/gitlab-ci-local/dist/index.js');
const PROCESS_ROUNDS = 6;

/** The files of a configuration the size of a large real project's (about 25 KB, 100 jobs). */
function realWorldFiles(): Record<string, string> {
  const main = [
    'stages: [lint, build, test, package, deploy, cleanup]',
    'include:',
    '  - local: ci/templates.yml',
    '  - local: ci/build.yml',
    '  - local: ci/test.yml',
    'variables:',
    '  GIT_DEPTH: "20"',
    '  DOCKER_DRIVER: overlay2',
    '  REGISTRY: registry.example.com/group/project',
    'default:',
    '  retry: { max: 1, when: [runner_system_failure, api_failure] }',
    '  interruptible: true',
    '  tags: [linux]',
    'workflow:',
    '  rules:',
    '    - if: $CI_COMMIT_MESSAGE =~ /\\[skip ci\\]/',
    '      when: never',
    '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"',
    '    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH',
    '    - if: $CI_COMMIT_TAG',
  ];
  for (let i = 0; i < 20; i += 1) {
    main.push(
      `deploy-region-${i}:`,
      '  extends: .deploy',
      '  variables:',
      `    REGION: region-${i}`,
      `    CLUSTER: cluster-${i % 4}`,
      '  environment:',
      `    name: production/region-${i}`,
      `    url: https://region-${i}.example.com`,
      '  needs: [package-image]',
      '  script:',
      '    - !reference [.deploy-helpers, script]',
      `    - ./deploy.sh --region region-${i} --cluster cluster-${i % 4} --image "$REGISTRY:$CI_COMMIT_SHORT_SHA"`,
      `    - ./smoke-test.sh https://region-${i}.example.com/health`,
    );
  }
  main.push('cleanup:', '  stage: cleanup', '  when: always', '  script: [echo cleaning up]');
  const templates = [
    '.node:',
    '  before_script:',
    '    - node --version',
    '    - npm ci --prefer-offline --no-audit',
    '  variables:',
    '    NODE_OPTIONS: --max-old-space-size=4096',
    '.rules-mr-and-main:',
    '  rules:',
    '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"',
    '    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH',
    '    - if: $CI_COMMIT_TAG =~ /^v\\d+\\.\\d+\\.\\d+$/',
    '.deploy-helpers:',
    '  script:',
    '    - echo "deploying $CI_COMMIT_SHA to $REGION"',
    '    - test -n "$CLUSTER"',
    '.deploy:',
    '  stage: deploy',
    '  rules:',
    '    - if: $CI_COMMIT_TAG',
    '      when: manual',
    '    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH',
    '  retry: 0',
  ];
  const build = [
    'lint:',
    '  stage: lint',
    '  extends: [.node, .rules-mr-and-main]',
    '  script: [npm run lint]',
  ];
  for (let i = 0; i < 30; i += 1) {
    build.push(
      `build-module-${i}:`,
      '  stage: build',
      '  extends: [.node, .rules-mr-and-main]',
      '  needs: [lint]',
      '  variables:',
      `    MODULE: module-${i}`,
      '  script:',
      `    - npm run build --workspace packages/module-${i}`,
      `    - du -sh packages/module-${i}/dist`,
    );
  }
  build.push(
    'package-image:',
    '  stage: package',
    '  needs: [build-module-0, build-module-1, build-module-2]',
    '  parallel:',
    '    matrix:',
    '      - ARCH: [amd64, arm64]',
    '  script:',
    '    - docker build --platform linux/$ARCH -t "$REGISTRY:$CI_COMMIT_SHORT_SHA-$ARCH" .',
  );
  const test = [];
  for (let i = 0; i < 45; i += 1) {
    test.push(
      `test-module-${i}:`,
      '  stage: test',
      '  extends: [.node, .rules-mr-and-main]',
      `  needs: [build-module-${i % 30}]`,
      "  coverage: '/All files[^|]*\\|[^|]*\\s+([\\d\\.]+)/'",
      '  script:',
      `    - npm test --workspace packages/module-${i % 30} -- --shard=${(i % 3) + 1}/3`,
      ...(i % 9 === 0
        ? [
            '  parallel:',
            '    matrix:',
            '      - NODE_VERSION: ["18", "20", "22"]',
            '        DB: [postgres, sqlite]',
          ]
        : []),
    );
  }
  return {
    '.gitlab-ci.yml': `${main.join('\n')}\n`,
    'ci/templates.yml': `${templates.join('\n')}\n`,
    'ci/build.yml': `${build.join('\n')}\n`,
    'ci/test.yml': `${test.join('\n')}\n`,
    'README.md': 'A project linted by both tools.\n',
    '.gitignore': '.gitlab-ci-local/\n',
  };
}

// The ES2025 Set methods gitlab-ci-local 4.75 uses, for Node < 22 only.
const SET_METHODS = `const P = Set.prototype;
const def = (n, f) => { if (!P[n]) Object.defineProperty(P, n, { value: f, writable: true, configurable: true }); };
def('union', function (o) { const r = new Set(this); for (const v of o.keys()) r.add(v); return r; });
def('intersection', function (o) { const r = new Set(); for (const v of this) if (o.has(v)) r.add(v); return r; });
def('difference', function (o) { const r = new Set(); for (const v of this) if (!o.has(v)) r.add(v); return r; });
def('symmetricDifference', function (o) { const r = new Set(this); for (const v of o.keys()) { if (this.has(v)) r.delete(v); else r.add(v); } return r; });
def('isSubsetOf', function (o) { for (const v of this) if (!o.has(v)) return false; return true; });
def('isSupersetOf', function (o) { for (const v of o.keys()) if (!this.has(v)) return false; return true; });
def('isDisjointFrom', function (o) { for (const v of this) if (o.has(v)) return false; return true; });
`;

function wallTime(
  args: readonly string[],
  cwd: string,
): Promise<{ ms: number; code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, code, output });
    }),
  );
}

const work = await mkdtemp(join(tmpdir(), 'tessera-bench-pipeline-parse-'));
try {
  const dir = join(work, 'project');
  const files = realWorldFiles();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  execFileSync('git', ['add', '.'], { cwd: dir });
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '-qm', 'init'], {
    cwd: dir,
  });
  const bytes = Object.entries(files)
    .filter(([path]) => path.endsWith('.yml'))
    .reduce((total, [, content]) => total + Buffer.byteLength(content), 0);

  const reader = createDirectoryReader(dir);
  const lister = createDirectoryLister(dir);
  const realVariables = buildRuleVariables({
    ref: 'main',
    tag: false,
    source: 'push',
    defaultBranch: 'main',
  });
  const lintInProcess = async () => {
    const { spec } = await loadPipeline({
      content: files['.gitlab-ci.yml']!,
      readLocalFile: reader,
      listLocalFiles: lister,
      variables: realVariables,
    });
    return planPipeline(spec, realVariables);
  };
  const realPlan = await lintInProcess();
  const inProcess: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) inProcess.push(await time(lintInProcess));
  console.log(
    `\nreal-world-sized configuration: ${(bytes / 1024).toFixed(1)} KB in 4 files, 100 job definitions, ${realPlan.jobs.length} jobs planned (matrices expanded)`,
  );
  console.log(`  loadPipeline + planPipeline (in process)   median ${median(inProcess).toFixed(1)} ms`);

  const bin = await installedPackage(join(work, 'package'));
  const polyfill = join(work, 'set-methods.mjs');
  await writeFile(polyfill, SET_METHODS);
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const gclArgs = [...(nodeMajor < 22 ? ['--import', polyfill] : []), GCL, '--preview'];
  const tesseraArgs = [bin, 'ci', 'lint', '--json'];
  const first = await wallTime(tesseraArgs, dir);
  if (first.code !== 0) throw new Error(`tessera ci lint failed: ${first.output.slice(0, 2000)}`);
  if (!existsSync(GCL)) {
    console.log('  gitlab-ci-local: not installed (a dev dependency); no comparison');
  } else {
    const gclFirst = await wallTime(gclArgs, dir);
    if (gclFirst.code !== 0)
      throw new Error(`gitlab-ci-local --preview failed: ${gclFirst.output.slice(-2000)}`);
    const ours: number[] = [];
    const theirs: number[] = [];
    const processRatios: number[] = [];
    for (let round = 0; round < PROCESS_ROUNDS; round += 1) {
      const order = round % 2 === 0 ? [tesseraArgs, gclArgs] : [gclArgs, tesseraArgs];
      const results = [];
      for (const args of order) results.push(await wallTime(args, dir));
      const [a, b] = round % 2 === 0 ? results : [...results].reverse();
      ours.push(a!.ms);
      theirs.push(b!.ms);
      processRatios.push(a!.ms / b!.ms);
    }
    console.log(
      `  tessera ci lint --json (installed bundle)  median ${median(ours).toFixed(0)} ms  (${PROCESS_ROUNDS} interleaved rounds, wall time)`,
    );
    console.log(`  gitlab-ci-local --preview                  median ${median(theirs).toFixed(0)} ms`);
    console.log(
      `  ratio tessera / gitlab-ci-local (median of per-round ratios): ${median(processRatios).toFixed(2)}x (goal <= 2x)${nodeMajor < 22 ? '; gitlab-ci-local ran with the Set polyfill (Node < 22)' : ''}`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
