import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTesseraError } from '../../src/errors.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { planPipeline } from '../../src/pipeline/plan.js';
import { buildRuleVariables } from '../../src/pipeline/rule-variables.js';

const dir = fileURLToPath(new URL('./fixtures/hostile/', import.meta.url));

describe('pipeline corpus: hostile files', () => {
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith('.yml'))
    .sort()) {
    it(`answers ${name} with a spec or ERR_PIPELINE_INVALID, never anything else`, async () => {
      const content = readFileSync(join(dir, name), 'utf8');
      const expectValid = content.startsWith('# valid');
      try {
        const { spec } = await loadPipeline({ content, readLocalFile: async () => undefined });
        const plan = planPipeline(spec, buildRuleVariables({ ref: 'main', tag: false, source: 'push' }));
        assert.ok(expectValid, `${name} was accepted`);
        assert.ok(plan.jobs.length > 0);
      } catch (error) {
        assert.ok(isTesseraError(error), String(error));
        assert.equal(error.code, 'ERR_PIPELINE_INVALID');
        assert.ok(!expectValid, error.message);
      }
    });
  }
});
