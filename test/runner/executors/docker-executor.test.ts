import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stripTimestampPrefixes } from '../../../src/job-log/timestamp-prefix.js';
import { RunnerAgent } from '../../../src/runner/agent.js';
import { executeJob } from '../../../src/runner/execute-job.js';
import { chooseExecutor } from '../../../src/runner/executors/create-executor.js';
import { runnerLabel, serviceAliases } from '../../../src/runner/executors/docker-executor.js';
import type { JobExecutor } from '../../../src/runner/executors/executor.js';
import type { JobPayload } from '../../../src/runner/job-payload.js';
import type { JobVariable } from '../../../src/runner/job-variable.js';
import { CoordinatorStandIn } from '../coordinator-stand-in.js';
import { makeRepository } from '../git-repository.js';
import { BUSYBOX_OS_ID, ensureBusyboxImage } from './busybox-image.js';

const built = ensureBusyboxImage();
const skip = 'reason' in built ? built.reason : false;
const image = 'image' in built ? built.image : '';

const root = mkdtempSync(join(tmpdir(), 'tessera-docker-'));
const repo = join(root, 'repo');
const buildsDir = join(root, 'builds');
const hostOnlyFile = join(root, 'host-only-file');
let sha = '';
let nextId = Math.floor(Date.now() / 1000) % 100000;

before(() => {
  sha = makeRepository(repo, { 'README.md': 'hello from the repository\n' });
  writeFileSync(hostOnlyFile, 'only on the host\n');
});
after(async () => {
  // Whatever a failed test left running (labelled with this run's builds directory).
  if (!skip) await docker().removeLeftovers?.(buildsDir);
  rmSync(root, { recursive: true, force: true });
});

interface JobExtras {
  variables?: JobVariable[];
  timeout?: number;
  image?: JobPayload['image'];
  services?: JobPayload['services'];
  afterScript?: string[];
  features?: JobPayload['features'];
  preGetSources?: string[];
}

function job(script: string[], extra: JobExtras = {}): JobPayload {
  const id = nextId++;
  const timeout = extra.timeout ?? 60;
  return {
    id,
    token: `job-token-${id}-abcdef`,
    variables: [{ key: 'CI_PROJECT_PATH', value: 'group/app' }, ...(extra.variables ?? [])],
    steps: [
      { name: 'script', script, timeout, when: 'on_success', allow_failure: false },
      ...(extra.afterScript
        ? [{ name: 'after_script', script: extra.afterScript, timeout, when: 'always', allow_failure: true }]
        : []),
    ],
    git_info: { repo_url: repo, ref: 'main', sha, ref_type: 'branch' },
    job_info: { name: 'test', stage: 'test', project_id: 1, project_name: 'app' },
    runner_info: { timeout },
    image: extra.image === undefined ? { name: image } : extra.image,
    ...(extra.services ? { services: extra.services } : {}),
    ...(extra.features ? { features: extra.features } : {}),
    ...(extra.preGetSources
      ? { hooks: [{ name: 'pre_get_sources_script', script: extra.preGetSources }] }
      : {}),
  };
}

function docker(options: { pullPolicy?: string; defaultImage?: string; network?: string } = {}): JobExecutor {
  return chooseExecutor({
    name: 'docker',
    dockerCli: 'podman',
    dockerPullPolicy: options.pullPolicy ?? 'if-not-present',
    ...(options.defaultImage ? { dockerImage: options.defaultImage } : {}),
    ...(options.network ? { dockerNetwork: options.network } : {}),
  }).executor;
}

async function run(payload: JobPayload, executor: JobExecutor, signal?: AbortSignal) {
  const chunks: Buffer[] = [];
  const outcome = await executeJob({
    job: payload,
    buildsDir,
    executor,
    onLog: (bytes) => chunks.push(bytes),
    killGraceMs: 500,
    ...(signal ? { signal } : {}),
  });
  return { outcome, log: stripTimestampPrefixes(Buffer.concat(chunks).toString()) };
}

function podman(args: string[]): string {
  return spawnSync('podman', args, { encoding: 'utf8' }).stdout.trim();
}

/** Containers (running or not) and networks labelled with the job `id`. */
function leftOf(id: number): { containers: string; networks: string } {
  return {
    containers: podman(['ps', '-aq', '--filter', `label=tessera.job.id=${id}`]),
    networks: podman(['network', 'ls', '-q', '--filter', `label=tessera.job.id=${id}`]),
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('docker executor (podman)', { skip }, () => {
  it("runs the job inside its image, at GitLab's paths, with the checkout mounted", async () => {
    const { outcome, log } = await run(
      job(
        [
          'cat /etc/os-release',
          `cat ${hostOnlyFile} || echo "no host file"`,
          'cat README.md',
          'echo "dirs: $CI_PROJECT_DIR $CI_BUILDS_DIR $(pwd)"',
          'ls "$(cat .git/objects/info/alternates)" | grep -c . || echo "objects not readable"',
          'test -x /bin/busybox && echo "busybox is here"',
        ],
        { afterScript: ['echo "after: $CI_JOB_STATUS"'] },
      ),
      docker(),
    );
    assert.equal(outcome.state, 'success', log);
    assert.match(
      log,
      /Preparing the "docker" executor\nUsing podman [0-9.]+ with image localhost\/tessera-test-busybox:1 \.\.\./,
    );
    assert.match(log, new RegExp(`ID=${BUSYBOX_OS_ID}`));
    assert.match(log, /No such file or directory\nno host file/);
    assert.doesNotMatch(log, /only on the host/);
    assert.match(log, /hello from the repository/);
    assert.match(log, /dirs: \/builds\/group\/app \/builds \/builds\/group\/app/);
    assert.doesNotMatch(log, /^objects not readable$/m);
    assert.match(log, /\|\| echo "objects not readable"\n[1-9]/);
    assert.match(log, /busybox is here/);
    assert.match(log, /after: success/);
  });

  it('runs a pre_get_sources_script hook in the job image before the checkout, and removes its container', async () => {
    const payload = job(['cat README.md'], {
      preGetSources: [
        'grep -c ID= /etc/os-release',
        'echo "hook in $(pwd) with $(ls -A | wc -l) entries"',
        `cat ${hostOnlyFile} || echo "hook: no host file"`,
      ],
    });
    const { outcome, log } = await run(payload, docker());
    assert.equal(outcome.state, 'success', log);
    assert.match(log, /\nhook in \/builds\/group\/app with 0 entries\n/);
    assert.match(log, /\nhook: no host file\n/);
    assert.ok(log.indexOf('hook in /builds') < log.indexOf('Checking out '), log);
    assert.match(log, /\nhello from the repository\n/);
    assert.deepEqual(leftOf(payload.id), { containers: '', networks: '' });

    const failing = job(['echo script-ran'], { preGetSources: ['exit 5'] });
    const failed = await run(failing, docker());
    assert.deepEqual(
      failed.outcome,
      { state: 'failed', failureReason: 'script_failure', exitCode: 5 },
      failed.log,
    );
    assert.doesNotMatch(failed.log, /script-ran/);
    assert.deepEqual(leftOf(failing.id), { containers: '', networks: '' });
  });

  it("takes the runner's default image when the job names none", async () => {
    const { outcome, log } = await run(
      job(['cat /etc/os-release'], { image: null }),
      docker({ defaultImage: image }),
    );
    assert.equal(outcome.state, 'success', log);
    assert.match(log, new RegExp(`ID=${BUSYBOX_OS_ID}`));
  });

  it("starts services on a network of the job's own, reachable by alias, and removes them after", async () => {
    const payload = job(['for i in $(seq 1 120); do wget -q -O - http://web/ && break; sleep 0.25; done'], {
      services: [{ name: image, alias: 'web', command: ['httpd', '-f', '-p', '80', '-h', '/www'] }],
    });
    const { outcome, log } = await run(payload, docker());
    assert.equal(outcome.state, 'success', log);
    assert.match(log, /^hello from the service$/m);
    assert.deepEqual(leftOf(payload.id), { containers: '', networks: '' });
  });

  it("joins --docker-network host instead of a network of its own: the host's loopback and the services are reachable", async () => {
    const server = createServer((_request, response) => response.end('reached the host\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // A port free on the host a moment ago (the service listens on the host's network).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const servicePort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    try {
      const payload = job(
        [
          `wget -q -O - http://127.0.0.1:${port}/`,
          `for i in $(seq 1 120); do wget -q -O - http://web:${servicePort}/ && break; sleep 0.25; done`,
        ],
        {
          services: [
            {
              name: image,
              alias: 'web',
              command: ['httpd', '-f', '-p', `127.0.0.1:${servicePort}`, '-h', '/www'],
            },
          ],
        },
      );
      const { outcome, log } = await run(payload, docker({ network: 'host' }));
      assert.equal(outcome.state, 'success', log);
      assert.match(log, /^reached the host$/m);
      assert.match(log, /^hello from the service$/m);
      assert.deepEqual(leftOf(payload.id), { containers: '', networks: '' });
    } finally {
      server.close();
    }
  });

  it('removes the containers and the network on cancel and on timeout', async () => {
    const cancel = new AbortController();
    const payload = job(['echo started', 'sleep 300'], {
      services: [{ name: image, alias: 'idle', command: ['sleep', '300'] }],
    });
    const running = run(payload, docker(), cancel.signal);
    await until(
      () => podman(['ps', '-q', '--filter', `label=tessera.job.id=${payload.id}`]).split('\n').length >= 2,
    );
    cancel.abort();
    const canceled = await running;
    assert.equal(canceled.outcome.state, 'canceled', canceled.log);
    assert.deepEqual(leftOf(payload.id), { containers: '', networks: '' });

    const slow = job(['sleep 300'], { timeout: 3 });
    const timedOut = await run(slow, docker());
    assert.deepEqual(timedOut.outcome, { state: 'failed', failureReason: 'job_execution_timeout' });
    assert.deepEqual(leftOf(slow.id), { containers: '', networks: '' });
  });

  it('fails a job whose image is missing with image_pull_failure and says which image', async () => {
    const never = await run(
      job(['true'], { image: { name: 'localhost/tessera-no-such-image:1', pull_policy: ['never'] } }),
      docker(),
    );
    assert.deepEqual(never.outcome, { state: 'failed', failureReason: 'image_pull_failure' });
    assert.match(
      never.log,
      /ERROR: Job failed: failed to pull image "localhost\/tessera-no-such-image:1" with specified policies \[never\]/,
    );
    // A pull from a registry on loopback that is not there, for a coordinator without the reason.
    const pulled = await run(
      job(['true'], {
        image: { name: '127.0.0.1:9/tessera-no-such-image:1' },
        features: { failure_reasons: ['script_failure', 'runner_system_failure'] },
      }),
      docker(),
    );
    assert.deepEqual(pulled.outcome, { state: 'failed', failureReason: 'runner_system_failure' });
    assert.match(pulled.log, /Pulling docker image 127\.0\.0\.1:9\/tessera-no-such-image:1 \.\.\./);
    assert.match(
      pulled.log,
      /failed to pull image "127\.0\.0\.1:9\/tessera-no-such-image:1" with specified policies \[if-not-present\]/,
    );
  });

  it('keeps masked values masked and every variable off the command lines', async () => {
    const secret = 'masked-in-the-container-4f2a';
    const steering = 'tcp://steering.invalid:2375';
    const payload = job(['echo "$SECRET $DOCKER_HOST"', 'echo "$CI_JOB_TOKEN"', 'sleep 300'], {
      variables: [
        { key: 'SECRET', value: secret, masked: true },
        { key: 'CI_JOB_TOKEN', value: 'ci-job-token-value-9d8e', masked: true },
        { key: 'DOCKER_HOST', value: steering },
      ],
    });
    const cancel = new AbortController();
    const running = run(payload, docker(), cancel.signal);
    let inspected = '';
    let commandLines = '';
    await until(() => {
      const id = podman(['ps', '-q', '--filter', `label=tessera.job.id=${payload.id}`]);
      if (id === '') return false;
      inspected = podman(['inspect', '--format', '{{json .Config.Cmd}} {{json .Args}} {{.Path}}', id]);
      return true;
    });
    for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
      try {
        commandLines += `${readFileSync(`/proc/${pid}/cmdline`, 'utf8')}\n`;
      } catch {
        // The process ended meanwhile.
      }
    }
    cancel.abort();
    const { log } = await running;
    assert.match(inspected, /sh/);
    assert.doesNotMatch(inspected, new RegExp(secret));
    assert.doesNotMatch(inspected, /ci-job-token-value/);
    assert.doesNotMatch(commandLines, new RegExp(secret));
    assert.doesNotMatch(commandLines, /ci-job-token-value/);
    assert.match(
      log,
      /\[MASKED\] tcp:\/\/steering\.invalid:2375/,
      'DOCKER_HOST reaches the job, not the CLI',
    );
    assert.doesNotMatch(log, new RegExp(secret));
    assert.doesNotMatch(log, /ci-job-token-value/);
  });

  it('removes what a crashed runner left when the runner starts', async () => {
    const label = `tessera.runner=${runnerLabel(buildsDir)}`;
    const name = `tessera-job-left-${process.pid}`;
    podman(['network', 'create', '--label', label, name]);
    podman([
      'run',
      '-d',
      '--name',
      name,
      '--label',
      label,
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=1024:1024',
      image,
      'sleep',
      '300',
    ]);
    assert.notEqual(podman(['ps', '-q', '--filter', `label=${label}`]), '');
    const coordinator = new CoordinatorStandIn('runner-token-docker-0123456789');
    await coordinator.listen();
    const messages: string[] = [];
    const agent = new RunnerAgent({
      url: coordinator.url,
      token: coordinator.runnerToken,
      buildsDir,
      executor: docker(),
      log: (message) => messages.push(message),
    });
    try {
      await agent.start();
    } finally {
      await agent.stop('abort');
      await coordinator.close();
    }
    assert.ok(
      messages.includes('removed 2 container(s) and network(s) left by a previous runner process'),
      messages.join('\n'),
    );
    assert.equal(podman(['ps', '-aq', '--filter', `label=${label}`]), '');
    assert.equal(podman(['network', 'ls', '-q', '--filter', `label=${label}`]), '');
  });

  it('says in the log that the shell executor ignores image and services', async () => {
    const { outcome, log } = await run(
      job(['true'], { services: [{ name: 'postgres:16' }] }),
      chooseExecutor({ name: 'shell' }).executor,
    );
    assert.equal(outcome.state, 'success', log);
    assert.match(
      log,
      /WARNING: image and services \(localhost\/tessera-test-busybox:1, postgres:16\) are ignored: the shell executor runs jobs on the runner's host/,
    );
  });
});

describe('docker executor choices', () => {
  it('derives service aliases as GitLab does', () => {
    assert.deepEqual(serviceAliases({ name: 'tutum/wordpress:latest', alias: 'wp db' }), [
      'wp',
      'db',
      'tutum-wordpress',
      'tutum__wordpress',
    ]);
    assert.deepEqual(serviceAliases({ name: 'postgres:16' }), ['postgres']);
  });

  it('refuses a bad pull policy and a CLI that cannot run', () => {
    assert.throws(
      () => chooseExecutor({ name: 'docker', dockerCli: 'podman', dockerPullPolicy: 'sometimes' }),
      /--docker-pull-policy must be always, if-not-present or never/,
    );
    assert.throws(
      () => chooseExecutor({ name: 'docker', dockerCli: '/nonexistent/docker' }),
      /--executor docker: \/nonexistent\/docker cannot run here/,
    );
  });
});
