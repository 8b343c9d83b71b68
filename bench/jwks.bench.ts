import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';
import { compare, median, report, startServerChild } from './measure.js';

const CONCURRENCY = 16;

if (process.argv[2] === 'serve') {
  // Child: the coordinator and the bare server, side by side.
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-jwks-'));
  const config = loadConfig(
    { host: '127.0.0.1', port: 0, dataDir, logLevel: 'warn', issuer: 'http://127.0.0.1:0' },
    {},
  );
  const server = await startServer(config, { env: {}, notice: () => {} });
  const jwks = await (await fetch(`${server.issuer}/oauth/discovery/keys`)).text();
  const etag = (await fetch(`${server.issuer}/oauth/discovery/keys`)).headers.get('etag') ?? '""';
  const bare = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': `public, max-age=${config.jwksCachePeriod}`,
      etag,
      'content-length': Buffer.byteLength(jwks),
    });
    res.end(jwks);
  });
  bare.keepAliveTimeout = 75_000;
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const address = bare.address();
  const barePort = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(
    `${JSON.stringify({ tessera: `${server.issuer}/oauth/discovery/keys`, bare: `http://127.0.0.1:${barePort}/` })}\n`,
  );
  process.stdin.resume();
  process.stdin.on('end', async () => {
    bare.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
} else {
  const { info: urls, stop } = await startServerChild<{ tessera: string; bare: string }>(import.meta.url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const get = (url: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, { agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
  // One operation = CONCURRENCY requests in flight at once; ratios are unaffected by the grouping.
  const burst = (url: string) => () => Promise.all(Array.from({ length: CONCURRENCY }, () => get(url)));
  const samples = await compare(
    [
      { name: 'tessera JWKS (requests/s)', run: burst(urls.tessera) },
      { name: 'bare node:http, same bytes', run: burst(urls.bare) },
    ],
    { rounds: 11, durationMs: 300 },
  );
  for (const values of Object.values(samples)) {
    for (const [index, value] of values.entries()) values[index] = value * CONCURRENCY;
  }
  report('JWKS', samples, 'tessera JWKS (requests/s)', { 'bare node:http, same bytes': 0.5 });

  const latency = async (url: string) => {
    const times: number[] = [];
    for (let index = 0; index < 2000; index += 1) {
      const started = performance.now();
      await get(url);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return { p50: median(times), p99: times[Math.floor(times.length * 0.99)] ?? 0 };
  };
  for (const [name, url] of Object.entries(urls)) {
    const { p50, p99 } = await latency(url);
    console.log(
      `  latency ${name.padEnd(8)} p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms (one request at a time)`,
    );
  }
  agent.destroy();
  await stop();
}
