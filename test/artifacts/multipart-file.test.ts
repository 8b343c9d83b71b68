import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MultipartFileStream, multipartBoundary } from '../../src/artifacts/multipart-file.js';

async function extract(
  body: Buffer,
  boundary: string,
  chunk: number,
): Promise<{ data: Buffer; filename: string | undefined }> {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += chunk) parts.push(body.subarray(at, at + chunk));
  const parser = new MultipartFileStream(boundary);
  const out: Buffer[] = [];
  Readable.from(parts).pipe(parser);
  for await (const piece of parser) out.push(piece as Buffer);
  return { data: Buffer.concat(out), filename: parser.filename };
}

describe('MultipartFileStream', () => {
  const boundary = 'XyZ-boundary';
  const file = Buffer.concat([
    randomBytes(100_000),
    Buffer.from(`\r\n--${boundary.slice(0, 5)}`),
    randomBytes(1000),
  ]);
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n`),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="artifacts.zip"\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);

  for (const chunk of [1, 7, 64, 65536, body.length]) {
    it(`streams the file part out whole in chunks of ${chunk} bytes`, async () => {
      const { data, filename } = await extract(body, boundary, chunk);
      assert.equal(filename, 'artifacts.zip');
      assert.ok(data.equals(file));
    });
  }

  it('refuses a body cut short and one without a file part', async () => {
    await assert.rejects(extract(body.subarray(0, body.length - 20), boundary, 1000), /truncated/);
    const noFile = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--${boundary}--\r\n`,
    );
    await assert.rejects(extract(noFile, boundary, 1000), /no file part|truncated/);
  });

  it('reads the boundary of a multipart Content-Type only', () => {
    assert.equal(multipartBoundary('multipart/form-data; boundary=abc'), 'abc');
    assert.equal(multipartBoundary('multipart/form-data; boundary="a b"'), 'a b');
    assert.equal(multipartBoundary('application/zip'), undefined);
    assert.equal(multipartBoundary(undefined), undefined);
  });
});
