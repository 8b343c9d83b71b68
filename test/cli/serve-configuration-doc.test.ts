import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_DEFAULTS, CONFIG_ENV } from '../../src/config/defaults.js';

describe('docs/configuration.md', () => {
  it('describes every setting with its variable and default', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of Object.keys(CONFIG_DEFAULTS) as Array<keyof typeof CONFIG_DEFAULTS>) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
      assert.ok(row, `no row for ${key}`);
      assert.ok(row.includes(`\`${CONFIG_ENV[key]}\``), `${key}: variable ${CONFIG_ENV[key]}`);
      const fallback = String(CONFIG_DEFAULTS[key]);
      if (fallback !== '') assert.ok(row.includes(`\`${fallback}\``), `${key}: default ${fallback}`);
    }
  });
});
