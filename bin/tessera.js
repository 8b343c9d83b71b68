#!/usr/bin/env node
// In a checkout the CLI runs straight from TypeScript through tsx, so it is never stale;
// an installed package (no src/) runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  main = await import(source);
} else {
  main = await import('../dist/cli/main.js');
}
process.exitCode = await main.runCli(process.argv);
