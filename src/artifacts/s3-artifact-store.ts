import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore, RandomAccessObject, StoredObject } from './artifact-store.js';
import { spoolUpload } from './spool-upload.js';

/** Where and how to reach an S3-compatible bucket. */
export interface S3Location {
  /** `https://s3.eu-central-1.amazonaws.com`, `http://minio.internal:9000`, … (path-style requests). */
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  /** Key prefix inside the bucket (`tessera/`), or empty. */
  readonly prefix: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Set with temporary credentials. */
  readonly sessionToken?: string;
}

/** Reads `s3://bucket[/prefix]`. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) return undefined;
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: match[1]!, prefix: prefix === '' ? '' : `${prefix}/` };
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
// RFC 3986 unreserved characters stay; everything else is percent-encoded (AWS's rule).
const encode = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Artifacts in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, …) with a small Signature
 * Version 4 client on node:http(s): no SDK. An upload is first streamed to a file in `spoolDir`
 * (counted, hashed and cut at the limit there), then sent with its length and checksum; a
 * download and a ranged read stream from the bucket. Nothing holds a whole archive in memory.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly description: string;
  readonly #location: S3Location;
  readonly #spoolDir: string;

  constructor(location: S3Location, spoolDir: string) {
    this.#location = location;
    this.#spoolDir = spoolDir;
    this.description = `s3 ${location.endpoint.replace(/\/$/, '')}/${location.bucket}/${location.prefix}`;
  }

  /** Sends one signed request; `body` is a file path (streamed) or nothing. */
  #send(
    method: string,
    key: string,
    options: { headers?: Record<string, string>; file?: { path: string; size: number; sha256: string } } = {},
  ): Promise<IncomingMessage> {
    const location = this.#location;
    const endpoint = new URL(location.endpoint);
    const path = `/${encode(location.bucket)}/${`${location.prefix}${key}`.split('/').map(encode).join('/')}`;
    const now = new Date();
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const payloadHash = options.file?.sha256 ?? sha256('');
    const headers: Record<string, string> = {
      host: endpoint.host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': payloadHash,
      ...(location.sessionToken ? { 'x-amz-security-token': location.sessionToken } : {}),
      ...(options.file ? { 'content-length': String(options.file.size) } : {}),
      ...options.headers,
    };
    const names = Object.keys(headers)
      .map((name) => name.toLowerCase())
      .sort();
    const canonicalHeaders = names.map((name) => `${name}:${String(headers[name]).trim()}\n`).join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = [method, path, '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
    const scope = `${day}/${location.region}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    const signingKey = hmac(
      hmac(hmac(hmac(`AWS4${location.secretAccessKey}`, day), location.region), 's3'),
      'aws4_request',
    );
    const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${location.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    const send = endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send({
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        port: endpoint.port,
        method,
        path,
        headers,
      });
      req.once('response', resolve);
      req.once('error', reject);
      if (options.file) {
        pipeline(createReadStream(options.file.path, { highWaterMark: 1024 * 1024 }), req).catch(reject);
      } else req.end();
    });
  }

  async #expect(response: IncomingMessage, ok: number[], what: string): Promise<void> {
    if (ok.includes(response.statusCode ?? 0)) return;
    let text = '';
    for await (const chunk of response) if (text.length < 2000) text += String(chunk);
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? '';
    throw new Error(`S3 ${what} answered ${response.statusCode}${code ? ` ${code}` : ''}`);
  }

  async put(key: string, source: Readable, limit: number): Promise<StoredObject> {
    await mkdir(this.#spoolDir, { recursive: true, mode: 0o700 });
    const spool = join(this.#spoolDir, randomUUID());
    try {
      const { size, sha256: digest } = await spoolUpload(source, spool, limit);
      const response = await this.#send('PUT', key, {
        file: { path: spool, size, sha256: digest },
      });
      await this.#expect(response, [200], 'upload');
      response.resume();
      return { size, sha256: digest };
    } finally {
      await rm(spool, { force: true });
    }
  }

  async get(key: string): Promise<{ stream: Readable; size: number } | undefined> {
    const response = await this.#send('GET', key);
    if (response.statusCode === 404) {
      response.resume();
      return undefined;
    }
    await this.#expect(response, [200], 'download');
    return { stream: response, size: Number(response.headers['content-length'] ?? 0) };
  }

  async open(key: string): Promise<RandomAccessObject | undefined> {
    const head = await this.#send('HEAD', key);
    head.resume();
    if (head.statusCode === 404) return undefined;
    await this.#expect(head, [200], 'head');
    const size = Number(head.headers['content-length'] ?? 0);
    const ranged = async (start: number, end: number): Promise<IncomingMessage> => {
      const response = await this.#send('GET', key, { headers: { range: `bytes=${start}-${end - 1}` } });
      await this.#expect(response, [206, 200], 'ranged read');
      return response;
    };
    return {
      size,
      read: async (position, length) => {
        const end = Math.min(size, position + length);
        if (end <= position) return Buffer.alloc(0);
        const chunks: Buffer[] = [];
        for await (const chunk of await ranged(position, end)) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      },
      stream: (start, end) => {
        const out = new Transform({ transform: (chunk, _encoding, done) => done(null, chunk) });
        if (end <= start) out.end();
        else
          ranged(start, end).then(
            (response) => response.pipe(out),
            (error: Error) => out.destroy(error),
          );
        return out;
      },
      close: async () => undefined,
    };
  }

  async delete(key: string): Promise<void> {
    const response = await this.#send('DELETE', key);
    response.resume();
    await this.#expect(response, [200, 204, 404], 'delete');
  }
}
