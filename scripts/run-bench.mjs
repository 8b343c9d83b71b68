// Runs every bench/*.bench.ts through tsx, one process each, one after the other (so they do not
// compete for the CPU). Arguments narrow the run: `npm run bench -- verify`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const files = readdirSync('bench')
  .filter((name) => name.endsWith('.bench.ts'))
  .filter((name) => filters.length === 0 || filters.some((filter) => name.includes(filter)))
  .sort()
  .map((name) => join('bench', name));
if (files.length === 0) {
  console.error('no benchmark matched');
  process.exit(1);
}
let failed = false;
for (const file of files) {
  console.log(`\n== ${file}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
