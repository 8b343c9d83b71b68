import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CATALOG, type ErrorCode, isTesseraError, TesseraError } from '../src/errors.js';

describe('TesseraError', () => {
  it('carries code, status, expose and name', () => {
    const error = new TesseraError('ERR_TOKEN_AUDIENCE_INVALID', 'aud must be set');
    assert.equal(error.code, 'ERR_TOKEN_AUDIENCE_INVALID');
    assert.equal(error.status, 400);
    assert.equal(error.expose, true);
    assert.equal(error.name, 'TesseraError');
    assert.ok(isTesseraError(error));
    assert.ok(!isTesseraError(new Error('plain')));
  });

  it('does not expose 5xx messages', () => {
    assert.equal(new TesseraError('ERR_KEYS_NO_SIGNING_KEY', 'x').expose, false);
  });

  it('keeps every code in the catalog documented in docs/errors.md, and nothing else', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/^## `(ERR_[A-Z0-9_]+)`/gm)].map((match) => match[1]));
    const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];
    assert.deepEqual(
      codes.filter((code) => !documented.has(code)),
      [],
      'codes missing from docs/errors.md',
    );
    assert.deepEqual(
      [...documented].filter((code) => !(code && Object.hasOwn(ERROR_CATALOG, code))),
      [],
      'docs/errors.md documents codes that do not exist',
    );
    for (const code of codes) {
      assert.match(
        doc,
        new RegExp(`## \`${code}\`\\n\\nHTTP ${ERROR_CATALOG[code]}\\b`),
        `${code} status in doc`,
      );
    }
  });
});
