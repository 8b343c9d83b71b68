// Keeps the keyword table of docs/pipeline-configuration.md true to the schema: every keyword the
// schema reads is listed as supported or partly, every one it refuses by name as not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { INCLUDE_KEYWORDS } from '../../src/pipeline/include.js';
import { TOP_LEVEL } from '../../src/pipeline/reference.js';
import { JOB_KEYS, UNSUPPORTED_JOB_KEYS } from '../../src/pipeline/schema/job.js';
import { DEFAULT_KEYS } from '../../src/pipeline/schema/job-settings.js';
import { JOB_RULE_KEYS, WORKFLOW_RULE_KEYS } from '../../src/pipeline/schema/rules.js';

const doc = readFileSync(new URL('../../docs/pipeline-configuration.md', import.meta.url), 'utf8');

/** keyword → status, from the rows of the "Every GitLab keyword" table. */
function keywordTable(): Map<string, string> {
  const section = doc.split('## Every GitLab keyword')[1]?.split('\n## ')[0] ?? '';
  const table = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split(' | ');
    if (!line.startsWith('| `') || cells.length < 3) continue;
    const status = cells[1]!.trim();
    for (const match of cells[0]!.matchAll(/`([^`]+)`/g)) table.set(match[1]!, status);
  }
  return table;
}

describe('docs/pipeline-configuration.md keyword table', () => {
  const table = keywordTable();

  it('has a status of supported, partly or not on every row', () => {
    assert.ok(table.size > 50, `table read: ${table.size} keywords`);
    for (const [keyword, status] of table) assert.match(status, /^(supported|partly|not)$/, keyword);
  });

  it('lists every keyword the schema reads as supported or partly', () => {
    const accepted = [
      ...JOB_KEYS,
      ...[...TOP_LEVEL].filter((keyword) => keyword !== 'types'),
      ...DEFAULT_KEYS,
      ...[...JOB_RULE_KEYS].map((keyword) => `rules:${keyword}`),
      ...[...WORKFLOW_RULE_KEYS]
        .filter((keyword) => !JOB_RULE_KEYS.has(keyword))
        .map((keyword) => `workflow:rules:${keyword}`),
      ...INCLUDE_KEYWORDS.map((keyword) => `include:${keyword}`),
    ].filter((keyword) => !UNSUPPORTED_JOB_KEYS.has(keyword));
    for (const keyword of accepted) {
      assert.match(table.get(keyword) ?? 'missing', /^(supported|partly)$/, `${keyword} in the table`);
    }
  });

  it('lists every keyword the schema refuses by name as not', () => {
    const refused = [...UNSUPPORTED_JOB_KEYS, 'types'];
    for (const keyword of refused)
      assert.equal(table.get(keyword) ?? 'missing', 'not', `${keyword} in the table`);
  });
});
