import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Loopback servers that serve `include:remote` files: HTTPS (self-signed) and plain HTTP. */
export interface IncludeServers {
  /** `https://127.0.0.1:<port>` */
  https: string;
  /** The same HTTPS server by name: `https://localhost:<port>` (the certificate names both). */
  httpsByName: string;
  /** `http://127.0.0.1:<port>` */
  http: string;
  /** A PEM file with the HTTPS server's certificate, to trust (`includeRemoteCaFile`). */
  caFile: string;
  /** Paths asked for, in order (`/ci.yml`), both servers together. */
  readonly requests: string[];
}

/**
 * Starts both servers on 127.0.0.1 (closed when the test file ends). `files` maps a path to its
 * answer: a string is served as YAML; `{ redirect }` answers 302; `{ status }` answers that status;
 * `{ hang: true }` never answers; `{ bytes }` streams that many bytes of YAML comment.
 */
export async function startIncludeServers(
  files: Record<
    string,
    string | { redirect: string } | { status: number } | { hang: true } | { bytes: number }
  >,
): Promise<IncludeServers> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-include-tls-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const requests: string[] = [];
  const hanging = new Set<http.ServerResponse>();
  const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const path = (request.url ?? '/').replace(/\?.*$/, '');
    requests.push(path);
    const answer = files[path];
    if (answer === undefined) {
      response.writeHead(404).end('not found');
    } else if (typeof answer === 'string') {
      response.writeHead(200, { 'content-type': 'text/yaml' }).end(answer);
    } else if ('redirect' in answer) {
      response.writeHead(302, { location: answer.redirect }).end();
    } else if ('status' in answer) {
      response.writeHead(answer.status).end('nope');
    } else if ('hang' in answer) {
      hanging.add(response);
    } else {
      // No content-length: the size limit must hold while the body streams.
      response.writeHead(200, { 'content-type': 'text/yaml' });
      const line = `#${'x'.repeat(1023)}\n`;
      let sent = 0;
      const pump = () => {
        while (sent < answer.bytes) {
          sent += line.length;
          if (!response.write(line)) return void response.once('drain', pump);
        }
        response.end();
      };
      pump();
    }
  };
  const secure = https.createServer({ key: await readFile(key), cert: await readFile(cert) }, handler);
  const plain = http.createServer(handler);
  await Promise.all(
    [secure, plain].map(
      (server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())),
    ),
  );
  after(async () => {
    for (const response of hanging) response.destroy();
    for (const server of [secure, plain]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  const securePort = (secure.address() as AddressInfo).port;
  return {
    https: `https://127.0.0.1:${securePort}`,
    httpsByName: `https://localhost:${securePort}`,
    http: `http://127.0.0.1:${(plain.address() as AddressInfo).port}`,
    caFile: cert,
    requests,
  };
}
