/**
 * Web UI: time to first byte of the pipeline page of a 200-job pipeline and of the job page of a
 * job with a 10 MB log (the page sends only the log's tail), each against the JSON API call that
 * returns the same data (`GET …/pipelines/:id/jobs`, `GET …/jobs/:id/trace`) in the same run,
 * interleaved; goal: at most 2×. Then the live log's latency: from a runner's `PATCH …/trace` to
 * the line appearing in Chromium's page (a MutationObserver stamps it); goal: p50 under 1 s.
 * A real `tessera serve` (startServer, SQLite) on 127.0.0.1, Debian's Chromium (/usr/bin/chromium).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { chromium } from 'playwright-core';
import { startServer } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';
import { median } from './measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const LATENCY_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 20);
const root = mkdtempSync(join(tmpdir(), 'tessera-bench-web-'));
const adminToken = 'bench-admin-token-0123456789';

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Milliseconds until the answer's headers (fetch resolves there), and until its last byte. */
async function timeToFirstByte(
  url: string,
  headers: Record<string, string>,
): Promise<{ ttfb: number; total: number }> {
  const started = performance.now();
  const response = await fetch(url, { headers });
  const ttfb = performance.now() - started;
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return { ttfb, total: performance.now() - started };
}

const server = await startServer(
  loadConfig(
    { host: '127.0.0.1', port: 0, dataDir: join(root, 'data'), logLevel: 'warn', jobRequestWait: 1 },
    {},
  ),
  { env: { TESSERA_BOOTSTRAP_ADMIN_TOKEN: adminToken }, logStream: new PassThrough(), notice: () => {} },
);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
try {
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        'private-token': adminToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };
  // A repository whose pipeline has 200 jobs in 4 stages; the first job's id_tokens make it a real one.
  const repo = join(root, 'repo');
  execFileSync('git', ['init', '-q', '--initial-branch=main', repo]);
  let yaml = 'stages: [a, b, c, d]\n';
  for (let index = 0; index < 200; index += 1)
    yaml += `job-${index}:\n  stage: ${'abcd'[index % 4]}\n  script: [echo ${index}]\n`;
  writeFileSync(join(repo, '.gitlab-ci.yml'), yaml);
  execFileSync('git', ['-C', repo, '-c', 'user.name=b', '-c', 'user.email=b@b.invalid', 'add', '.']);
  execFileSync('git', [
    '-C',
    repo,
    '-c',
    'user.name=b',
    '-c',
    'user.email=b@b.invalid',
    'commit',
    '-qm',
    'x',
  ]);
  const group = await api('POST', '/api/v4/groups', { name: 'acme', path: 'acme' });
  const project = await api('POST', '/api/v4/projects', {
    name: 'app',
    path: 'app',
    namespace_id: group.id,
    repository_url: repo,
  });
  await api('PUT', '/api/v4/users/1', { password: 'bench-password-1' });
  const pipeline = await api('POST', `/api/v4/projects/${project.id}/pipeline?ref=main`);
  const runner = await api('POST', '/api/v4/user/runners', { runner_type: 'instance_type' });
  const job = await api('POST', '/api/v4/jobs/request', { token: runner.token, info: { name: 'bench' } });
  // 10 MB of log in 1 MB chunks, with colours, as a runner streams it.
  const line = `\u001b[32m${'x'.repeat(90)}\u001b[0m\n`;
  const chunk = line.repeat(Math.ceil((1024 * 1024) / line.length));
  let offset = 0;
  for (let index = 0; index < 10; index += 1) {
    const size = Buffer.byteLength(chunk);
    await api('PATCH', `/api/v4/jobs/${job.id}/trace`, chunk, {
      'job-token': job.token,
      'content-range': `${offset}-${offset + size - 1}`,
      'content-type': 'text/plain',
    });
    offset += size;
  }
  // Sign in as a browser does, and keep the session cookie.
  const signInPage = await fetch(`${server.url}/users/sign_in`);
  const csrfCookie = /_tessera_sign_in_csrf=([^;]+)/.exec(signInPage.headers.get('set-cookie') ?? '')![1]!;
  const signedIn = await fetch(`${server.url}/users/sign_in`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: `_tessera_sign_in_csrf=${csrfCookie}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      authenticity_token: csrfCookie,
      'user[login]': 'root',
      'user[password]': 'bench-password-1',
    }),
  });
  const session = /_tessera_session=([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')![1]!;
  const web = { cookie: `_tessera_session=${session}` };
  const token = { 'private-token': adminToken };

  const pairs = [
    {
      what: 'pipeline page, 200 jobs',
      page: `${server.url}/acme/app/-/pipelines/${pipeline.id}`,
      json: `${server.url}/api/v4/projects/${project.id}/pipelines/${pipeline.id}/jobs`,
    },
    {
      what: 'job page, 10 MB log (tail)',
      page: `${server.url}/acme/app/-/jobs/${job.id}`,
      json: `${server.url}/api/v4/projects/${project.id}/jobs/${job.id}/trace`,
    },
  ];
  for (const pair of pairs) {
    const page: number[] = [];
    const json: number[] = [];
    const ratios: number[] = [];
    const pageTotal: number[] = [];
    const jsonTotal: number[] = [];
    for (let round = 0; round <= ROUNDS; round += 1) {
      const order = round % 2 === 0 ? ['page', 'json'] : ['json', 'page'];
      const results: Record<string, { ttfb: number; total: number }> = {};
      for (const which of order) {
        results[which] = await timeToFirstByte(
          which === 'page' ? pair.page : pair.json,
          which === 'page' ? web : token,
        );
      }
      if (round === 0) continue; // warm-up
      page.push(results.page!.ttfb);
      json.push(results.json!.ttfb);
      pageTotal.push(results.page!.total);
      jsonTotal.push(results.json!.total);
      ratios.push(results.page!.ttfb / results.json!.ttfb);
    }
    console.log(
      `${pair.what}: TTFB median ${median(page).toFixed(1)} ms (whole answer ${median(pageTotal).toFixed(1)} ms) ` +
        `vs JSON API ${median(json).toFixed(1)} ms (whole ${median(jsonTotal).toFixed(1)} ms); ` +
        `ratio ${median(ratios).toFixed(2)} (goal ≤ 2)`,
    );
  }

  // Live log latency: PATCH a line, wait for it in the page.
  const browserPage = await (await browser.newContext()).newPage();
  await browserPage.context().addCookies([{ name: '_tessera_session', value: session, url: server.url }]);
  await browserPage.goto(`${server.url}/acme/app/-/jobs/${job.id}`);
  await browserPage.evaluate(() => {
    const seen: Record<string, number> = {};
    (window as unknown as { seen: Record<string, number> }).seen = seen;
    new MutationObserver((mutations) => {
      for (const mutation of mutations) {
        for (const node of mutation.addedNodes) {
          const match = /marker-(\d+)/.exec(node.textContent ?? '');
          if (match) seen[match[1]!] ??= Date.now();
        }
      }
    }).observe(document.getElementById('job-log')!, { childList: true, subtree: true });
  });
  const latencies: number[] = [];
  for (let round = 0; round < LATENCY_ROUNDS; round += 1) {
    const text = `marker-${round}\n`;
    const sentAt = Date.now();
    await api('PATCH', `/api/v4/jobs/${job.id}/trace`, text, {
      'job-token': job.token,
      'content-range': `${offset}-${offset + text.length - 1}`,
      'content-type': 'text/plain',
    });
    offset += text.length;
    const seenAt = await browserPage.waitForFunction(
      (key) => (window as unknown as { seen: Record<string, number> }).seen[key],
      String(round),
      { timeout: 10_000, polling: 20 },
    );
    latencies.push(((await seenAt.jsonValue()) as number) - sentAt);
    // Spread the lines over the stream's poll cycle.
    await new Promise((resolve) => setTimeout(resolve, 137));
  }
  console.log(
    `live log, runner PATCH → line in Chromium: p50 ${percentile(latencies, 50)} ms, p90 ${percentile(latencies, 90)} ms, ` +
      `max ${Math.max(...latencies)} ms over ${latencies.length} lines (goal: p50 < 1000 ms)`,
  );
} finally {
  await browser.close();
  await server.close();
  rmSync(root, { recursive: true, force: true });
}
