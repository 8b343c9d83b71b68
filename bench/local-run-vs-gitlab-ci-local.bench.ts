/**
 * `tessera run` against gitlab-ci-local (the npm tool a user would pick to run a .gitlab-ci.yml
 * locally) on the same 10-job shell pipeline (three stages, no image) in a temporary git
 * repository: wall time of the whole command, a few interleaved rounds (order alternating),
 * medians and the median of the per-round ratios. Tessera runs twice: installed (bin, the
 * esbuild bundle with the V8 code cache bin writes on the first run, the precompiled request
 * validators, node_modules: what `npm install` leaves) and from the checkout (`node bin/tessera.js`, which runs the bundle when it is
 * current, else the TypeScript sources through tsx). Also the start-up floors (`--version`), and
 * what each gives a job that declares
 * `id_tokens`. Goal (issue 5): tessera / gitlab-ci-local ≤ 0.5.
 *
 * gitlab-ci-local 4.75 needs Node ≥ 22 (it calls `Set.prototype.union`); on an older Node this
 * bench preloads a polyfill of the ES2025 Set methods for it and says so. It also needs `rsync`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { installedPackage } from '../test/bin/fixtures/installed-package.js';
import { median } from './measure.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TESSERA = join(ROOT, 'bin/tessera.js');
const GCL = join(ROOT, 'node_modules/gitlab-ci-local/dist/index.js');
const ROUNDS = 8;
const FLOOR_ROUNDS = 2;

const PIPELINE = `stages: [build, test, deploy]
default:
  before_script:
    - echo "job $CI_JOB_NAME in stage $CI_JOB_STAGE"
.build:
  stage: build
  script:
    - mkdir -p out && sha256sum README.md > out/$CI_JOB_NAME.sum
    - cat out/$CI_JOB_NAME.sum
build-api: { extends: .build }
build-web: { extends: .build }
build-cli: { extends: .build }
.test:
  stage: test
  script:
    - ls -la
    - for i in 1 2 3; do echo "check $i of $CI_JOB_NAME"; done
    - test -f README.md
unit-api: { extends: .test }
unit-web: { extends: .test }
unit-cli: { extends: .test }
lint: { extends: .test }
typecheck: { extends: .test }
.deploy:
  stage: deploy
  script:
    - echo "deploying from $CI_COMMIT_REF_NAME"
deploy-staging: { extends: .deploy }
deploy-docs: { extends: .deploy }
`;

const ID_TOKEN_PIPELINE = `identity:
  id_tokens:
    MY_ID_TOKEN:
      aud: https://relying-party.example
  script:
    - echo "MY_ID_TOKEN=\${MY_ID_TOKEN}"
    - echo "length=\${#MY_ID_TOKEN} dots=$(printf %s "$MY_ID_TOKEN" | tr -cd . | wc -c)"
`;

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

interface Timed {
  ms: number;
  code: number | null;
  output: string;
}

function timed(args: readonly string[], cwd: string): Promise<Timed> {
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, code, output });
    }),
  );
}

async function repository(parent: string, name: string, pipeline: string): Promise<string> {
  const dir = join(parent, name);
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  await writeFile(join(dir, '.gitlab-ci.yml'), pipeline);
  await writeFile(join(dir, 'README.md'), 'A project run by both tools.\n');
  // gitlab-ci-local keeps its state in the working copy, and its shell executor runs the jobs there
  // (they write out/); both ignored, so tessera sees a clean tree.
  await writeFile(join(dir, '.gitignore'), '.gitlab-ci-local/\nout/\n');
  execFileSync('git', ['add', '.'], { cwd: dir });
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '-qm', 'init'], {
    cwd: dir,
  });
  return dir;
}

function gitlabCiLocalProblem(): string | undefined {
  if (!existsSync(GCL)) return 'gitlab-ci-local is not installed (npm install runs it as a dev dependency)';
  try {
    execFileSync('rsync', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'gitlab-ci-local needs rsync (it copies the working copy into .gitlab-ci-local/builds), and rsync is not installed';
  }
  return undefined;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const work = await mkdtemp(join(tmpdir(), 'tessera-bench-local-run-'));
try {
  const dir = await repository(work, 'ten-jobs', PIPELINE);
  const identityDir = await repository(work, 'identity', ID_TOKEN_PIPELINE);
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const polyfill = join(work, 'set-methods.mjs');
  await writeFile(polyfill, SET_METHODS);
  const gclArgs = (...args: string[]) => [...(nodeMajor < 22 ? ['--import', polyfill] : []), GCL, ...args];
  const problem = gitlabCiLocalProblem();
  const gclVersion = problem
    ? undefined
    : (await timed(gclArgs('--version'), dir)).output.trim().split('\n').at(-1);
  console.log(
    `10-job shell pipeline (build ×3, test ×5, deploy ×2), ${ROUNDS} interleaved rounds, wall time per command`,
  );
  const installed = await installedPackage(join(work, 'package')).catch(() => undefined);
  console.log(
    installed
      ? '  tessera run:     installed layout (bin, the esbuild bundle and its V8 code cache, the precompiled validators, node_modules)'
      : '  tessera run:     left out: the bundle build produced no dist/cli-bundle/main.cjs',
  );
  console.log(
    '  tessera run (checkout): node bin/tessera.js run in the checkout (the bundle when it is current, else tsx: see bin/tessera.js)',
  );
  if (problem) {
    console.log(`  gitlab-ci-local: cannot run here: ${problem}`);
  } else {
    console.log(
      `  gitlab-ci-local: ${gclVersion} with its shell executor (jobs have no image)${
        nodeMajor < 22
          ? `; Node ${process.versions.node} < 22, so with a preloaded polyfill of the ES2025 Set methods`
          : ''
      }`,
    );
  }

  // The installed layout is what a user runs; the checkout's bin is shown beside it.
  const bin = installed ?? TESSERA;
  const contenders: Array<{ name: string; args: string[] }> = [{ name: 'tessera run', args: [bin, 'run'] }];
  if (installed) contenders.push({ name: 'tessera run (checkout)', args: [TESSERA, 'run'] });
  if (!problem) contenders.push({ name: 'gitlab-ci-local', args: gclArgs() });
  const floors: Array<{ name: string; args: string[] }> = [
    { name: 'tessera --version', args: [bin, '--version'] },
  ];
  if (!problem) floors.push({ name: 'gitlab-ci-local --version', args: gclArgs('--version') });

  // Warm-up (the code caches bin writes on a first run, git, the disk cache), checked for success.
  for (const contender of [...contenders, ...floors]) {
    const result = await timed(contender.args, dir);
    if (result.code !== 0) {
      console.log(`\n${contender.name} failed (exit ${result.code}):\n${result.output.slice(-2000)}`);
      process.exitCode = 1;
    }
  }
  const samples: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round += 1) {
    // The floors vary little: two rounds of them keep the whole bench under a minute.
    const all = round < FLOOR_ROUNDS ? [...contenders, ...floors] : [...contenders];
    for (const contender of round % 2 === 0 ? all : all.reverse()) {
      const result = await timed(contender.args, dir);
      samples[contender.name] = [...(samples[contender.name] ?? []), result.ms];
    }
  }
  console.log('\nmedian wall time (min–max)');
  for (const [name, values] of Object.entries(samples)) {
    console.log(
      `  ${name.padEnd(30)} ${seconds(median(values)).padStart(8)}  (${seconds(Math.min(...values))}–${seconds(Math.max(...values))})`,
    );
  }
  const ratioOf = (a: string, b: string) => {
    const theirs = samples[b] ?? [];
    const mine = (samples[a] ?? []).slice(0, theirs.length);
    const ratios = mine.map((value, index) => value / (theirs[index] ?? Number.NaN));
    return { ratio: median(ratios), low: Math.min(...ratios), high: Math.max(...ratios) };
  };
  if (!problem) {
    for (const name of contenders
      .map((contender) => contender.name)
      .filter((name) => name.startsWith('tessera'))) {
      const { ratio, low, high } = ratioOf(name, 'gitlab-ci-local');
      console.log(
        `  ratio ${name} / gitlab-ci-local: ${ratio.toFixed(2)} (rounds ${low.toFixed(2)}–${high.toFixed(2)}); goal ≤ 0.5: ${ratio <= 0.5 ? 'met' : 'NOT met'}`,
      );
    }
    const floor = ratioOf('tessera --version', 'gitlab-ci-local --version');
    console.log(`  ratio of the start-up floors (--version): ${floor.ratio.toFixed(2)}`);
    const above = (run: string, version: string) =>
      seconds(median(samples[run] ?? []) - median(samples[version] ?? []));
    console.log(
      `  above the --version floor: tessera ${above('tessera run', 'tessera --version')} (embedded coordinator with fresh RS256/ES256 keys, runner, 10 jobs), gitlab-ci-local ${above('gitlab-ci-local', 'gitlab-ci-local --version')}`,
    );
  }

  console.log('\nA job with id_tokens (MY_ID_TOKEN, aud https://relying-party.example), as each shows it:');
  const tessera = await timed([bin, 'run'], identityDir);
  const pick = (output: string) =>
    output
      .split('\n')
      .filter((line) => /MY_ID_TOKEN=|length=/.test(line) && !line.includes('$ echo'))
      .map((line) => `    ${line.trim()}`)
      .join('\n');
  console.log(
    `  tessera run (exit ${tessera.code}): a real RS256 JWT (three parts), masked in the log\n${pick(tessera.output)}`,
  );
  if (!problem) {
    const gcl = await timed(gclArgs(), identityDir);
    console.log(
      `  gitlab-ci-local (exit ${gcl.code}): no token is minted, the variable is empty\n${pick(gcl.output)}`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
