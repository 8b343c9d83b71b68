/**
 * On-demand minting: `GET /api/v4/job/id_token?api-version=1&audience=…` with a running job's
 * request token, against a real coordinator (HTTP, request-token lookup, job-state check, claims
 * from the records, RS256 signature, audit insert into SQLite) in a child process, against raw
 * `crypto.sign` RS256 (2048-bit key, a signing input of the same size) on one core in this process,
 * in interleaved rounds. The load comes from 16 lean clients (a keep-alive socket each, one request
 * in flight, the next sent as soon as the last is answered, no client waiting for another) so the
 * client's own CPU use does not decide the result on a shared 2-core machine; the same path called
 * in process is reported too. Also p50/p99 latency of single requests (node:http client).
 * Goal (issue 16): at least 0.8 at 16 concurrent clients (signing runs in worker threads).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';
import { mintOnDemand } from '../src/coordinator/on-demand-token.js';
import { compare, median, report, startServerChild, threadCpuTimes } from './measure.js';

const CONCURRENCY = 16;

/**
 * A lean load client: one keep-alive socket with one request in flight, the next request written
 * as soon as the answer to the last one is complete (counted by its Content-Length). It keeps the
 * client's own CPU use small, so the numbers are the coordinator's rather than the load generator's.
 */
async function leanClient(url: string, token: string) {
  const target = new URL(`${url}&audience=https%3A%2F%2Fvault.example.com`);
  const socket = connect(Number(target.port), target.hostname);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const request = Buffer.from(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  let buffered: Buffer = Buffer.alloc(0);
  let running:
    | { until: number; answered: number; resolve: (answered: number) => void; reject: (error: Error) => void }
    | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      buffered = buffered.subarray(end + 4 + length);
      const current = running;
      if (!current) continue;
      if (!head.startsWith('HTTP/1.1 200')) {
        running = undefined;
        current.reject(new Error(head.split('\r\n')[0]));
        continue;
      }
      current.answered += 1;
      if (performance.now() < current.until) socket.write(request);
      else {
        running = undefined;
        current.resolve(current.answered);
      }
    }
  });
  return {
    /** Requests tokens one after the other until `until` (a `performance.now()` time); answers how many it got. */
    run(until: number): Promise<number> {
      return new Promise((resolve, reject) => {
        running = { until, answered: 0, resolve, reject };
        socket.write(request);
      });
    },
    close: () => socket.destroy(),
  };
}

/**
 * Tokens per second of `clients` running side by side for about `durationMs`: each starts its next
 * request when its last answer arrives (no client waits for another), and the time runs until the
 * last answer, so requests in flight at the deadline are counted with the time they took.
 */
async function concurrentRate(
  clients: ReadonlyArray<{ run: (until: number) => Promise<number> }>,
  durationMs: number,
) {
  const started = performance.now();
  const counts = await Promise.all(clients.map((client) => client.run(started + durationMs)));
  const elapsed = performance.now() - started;
  return (counts.reduce((sum, count) => sum + count, 0) / elapsed) * 1000;
}

async function api(base: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}/api/v4${path}`, {
    method,
    headers: { 'private-token': token, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await response.json()) as Record<string, unknown> & { id: number; token: string };
}

/** A coordinator with one running job: its request URL and token (the job's on-demand credentials). */
async function startBenchCoordinator() {
  const root = mkdtempSync(join(tmpdir(), 'tessera-bench-on-demand-'));
  const repo = join(root, 'repo');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b.invalid', ...args], { cwd: repo });
  execFileSync('git', ['init', '--quiet', '--initial-branch=main', repo]);
  writeFileSync(join(repo, '.gitlab-ci.yml'), 'job:\n  script: [sleep 3600]\n');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'bench');
  const admin = 'bench-admin-token-0123456789';
  const config = loadConfig(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir: join(root, 'data'),
      logLevel: 'warn',
      issuer: 'http://127.0.0.1:0',
      tokenRateLimit: 1_000_000,
    },
    {},
  );
  const server = await startServer(config, {
    env: { TESSERA_BOOTSTRAP_ADMIN_TOKEN: admin },
    notice: () => {},
  });
  const group = await api(server.url, admin, 'POST', '/groups', { name: 'bench', path: 'bench' });
  const project = await api(server.url, admin, 'POST', '/projects', {
    name: 'app',
    namespace_id: group.id,
    repository_url: repo,
  });
  await api(server.url, admin, 'POST', `/projects/${project.id}/pipeline?ref=main`);
  const runner = await api(server.url, admin, 'POST', '/user/runners', { runner_type: 'instance_type' });
  const job = (await (
    await fetch(`${server.url}/api/v4/jobs/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: runner.token }),
    })
  ).json()) as { variables: Array<{ key: string; value: string }> };
  const value = (key: string) => job.variables.find((entry) => entry.key === key)?.value ?? '';
  return {
    server,
    root,
    url: value('TESSERA_ID_TOKEN_REQUEST_URL'),
    token: value('TESSERA_ID_TOKEN_REQUEST_TOKEN'),
  };
}

if (process.argv[2] === 'serve') {
  const { server, root, url, token } = await startBenchCoordinator();
  process.stdout.write(`${JSON.stringify({ url, token })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
    process.exit(0);
  });
} else {
  const { info: target, pid, stop } = await startServerChild<{ url: string; token: string }>(import.meta.url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let sampleLength = 0;
  const mint = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        `${target.url}&audience=https%3A%2F%2Fvault.example.com`,
        { agent, headers: { authorization: `Bearer ${target.token}` } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}: ${body}`));
            sampleLength = body.length;
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  await mint();
  // CONCURRENCY clients, each a keep-alive socket with one request in flight (Node's server
  // answers a socket's pipelined requests one after the other, which would hide any parallelism).
  const clients = await Promise.all(
    Array.from({ length: CONCURRENCY }, () => leanClient(target.url, target.token)),
  );
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // The signing input of a token is about three quarters of its length (the signature is the rest).
  const input = Buffer.alloc(Math.max(64, Math.round(sampleLength * 0.72)), 'a');
  // The same path without HTTP client and sockets, in this process: what the coordinator itself costs.
  const local = await startBenchCoordinator();
  const inProcessClient = {
    async run(until: number): Promise<number> {
      let answered = 0;
      do {
        await mintOnDemand(local.server.coordinator, {
          requestToken: local.token,
          audience: 'https://vault.example.com',
        });
        answered += 1;
      } while (performance.now() < until);
      return answered;
    },
  };
  const inProcessClients = Array.from({ length: CONCURRENCY }, () => inProcessClient);
  // CPU time, read from /proc around each round: the server's threads (its event loop apart) and
  // this process's main thread (the load clients during HTTP rounds, the signing baseline during its own).
  const cpu = { tokens: 0, serverMain: 0, serverOthers: 0, client: 0, signatures: 0, signing: 0 };
  const serverCpu = () => {
    const threads = threadCpuTimes(pid);
    let others = 0;
    for (const [thread, ms] of threads) if (thread !== pid) others += ms;
    return { main: threads.get(pid) ?? 0, others };
  };
  const ownCpu = () => threadCpuTimes(process.pid).get(process.pid) ?? 0;
  const overHttp = async (durationMs: number) => {
    const server = serverCpu();
    const client = ownCpu();
    const started = performance.now();
    const counts = await Promise.all(clients.map((client) => client.run(started + durationMs)));
    const elapsed = performance.now() - started;
    const after = serverCpu();
    const answered = counts.reduce((sum, count) => sum + count, 0);
    cpu.tokens += answered;
    cpu.serverMain += after.main - server.main;
    cpu.serverOthers += after.others - server.others;
    cpu.client += ownCpu() - client;
    return (answered / elapsed) * 1000;
  };
  const rawSigning = (durationMs: number) => {
    const before = ownCpu();
    const started = performance.now();
    let signatures = 0;
    let elapsed = 0;
    while (elapsed < durationMs) {
      for (let index = 0; index < 8; index += 1) sign('sha256', input, privateKey);
      signatures += 8;
      elapsed = performance.now() - started;
    }
    cpu.signatures += signatures;
    cpu.signing += ownCpu() - before;
    return Promise.resolve((signatures / elapsed) * 1000);
  };
  const samples = await compare(
    [
      { name: 'on-demand tokens over HTTP', measure: overHttp },
      {
        name: 'mintOnDemand() in process',
        measure: (durationMs) => concurrentRate(inProcessClients, durationMs),
      },
      { name: 'raw crypto.sign RS256, one core', measure: rawSigning },
    ],
    { rounds: 21, durationMs: 400 },
  );
  console.log(
    `\nload average ${loadavg()
      .map((value) => value.toFixed(1))
      .join(' ')} (1, 5, 15 min) on ${availableParallelism()} cores`,
  );
  report('On-demand ID tokens (tokens/s)', samples, 'on-demand tokens over HTTP', {
    'raw crypto.sign RS256, one core': 0.8,
  });
  if (cpu.tokens > 0 && cpu.signatures > 0) {
    // What the wall-clock ratio cannot show on a shared machine, where the bench's processes get
    // one share of the cores however many threads they run: the CPU each token costs, against one
    // signature, and the rate that would give with the cores to itself.
    const perToken = (ms: number) => (ms * 1000) / cpu.tokens;
    const perSignature = (cpu.signing * 1000) / cpu.signatures;
    const total = perToken(cpu.serverMain + cpu.serverOthers + cpu.client);
    const cores = availableParallelism();
    // The event loop is one thread: it alone caps the rate at one token per its CPU per token.
    const capacity = Math.min(cores / total, 1 / perToken(cpu.serverMain)) * perSignature;
    console.log(
      `  CPU per token: server event loop ${perToken(cpu.serverMain).toFixed(0)} µs, server's other threads (signing, GC) ${perToken(cpu.serverOthers).toFixed(0)} µs, load clients ${perToken(cpu.client).toFixed(0)} µs; one raw signature ${perSignature.toFixed(0)} µs`,
    );
    console.log(
      `  CPU per token / CPU per signature: ${(total / perSignature).toFixed(2)}; with its ${cores} cores to itself that is ${capacity.toFixed(2)}× one core's signing rate (goal ≥ 0.8 needs ≤ ${(cores / 0.8).toFixed(2)})`,
    );
  }
  const { 'on-demand tokens over HTTP': _http, ...withoutHttp } = samples;
  report('On-demand ID tokens, coordinator only (tokens/s)', withoutHttp, 'mintOnDemand() in process', {
    'raw crypto.sign RS256, one core': 0.6,
  });
  await local.server.close();
  rmSync(local.root, { recursive: true, force: true });
  const times: number[] = [];
  for (let index = 0; index < 500; index += 1) {
    const started = performance.now();
    await mint();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(
    `  latency on-demand p50 ${median(times).toFixed(3)} ms, p99 ${(times[Math.floor(times.length * 0.99)] ?? 0).toFixed(3)} ms (one request at a time)`,
  );
  agent.destroy();
  for (const client of clients) client.close();
  await stop();
}
