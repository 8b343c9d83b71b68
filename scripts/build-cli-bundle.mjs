// Bundles the `tessera` command line (src/cli/main.ts and everything it reaches, dependencies
// included) into dist/cli-bundle/ with esbuild. Importing the ~150 files of dist/ plus Fastify,
// Kysely, jose, yaml, pino and ajv one module at a time costs about 430 ms before `tessera run`
// does anything; a handful of minified chunks load in about a quarter of that. bin/tessera.js runs
// the bundle when it is current. The library exports (dist/index.js, dist/verify) stay tsc's.
//
//   node scripts/build-cli-bundle.mjs [--outdir DIR]
//
// DIR (default dist/cli-bundle) must sit two directories below a package root holding bin/tessera.js:
// src/runner/agent.ts finds the bin as `new URL('../../bin/tessera.js', import.meta.url)`, and in
// the bundle import.meta.url is the chunk's own URL.
import { rm, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = resolve(values.outdir ?? join(root, 'dist', 'cli-bundle'));

// bin/tessera.js trusts the bundle when main.js is at least as new as every file in src/. Dating
// main.js to when the build started keeps an edit saved during the build from looking built.
const started = new Date();
await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Each command is a dynamic import in main.ts; splitting keeps it a chunk loaded only when named.
  splitting: true,
  chunkNames: '[name]-[hash]',
  // better-sqlite3 is a native addon that finds its .node file relative to its own package, and pg
  // is loaded only for a PostgreSQL store; both stay in node_modules.
  // pino is bundled: its only code that needs its own files on disk (worker scripts found through
  // __dirname) serves transports, which Tessera never configures.
  external: ['better-sqlite3', 'pg'],
  minify: true,
  // TesseraError sets `this.name = new.target.name`, and error names reach logs and bug reports.
  keepNames: true,
  // Linked, not inline: the bundle stays small to parse, and a stack trace from a bug report can
  // be mapped offline. Node reads the map only under --enable-source-maps, which bin never sets.
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM call require() for Node's built-ins; esbuild's own shim
  // throws for that, so each chunk gets a real require.
  banner: {
    js: "import { createRequire as __tesseraRequire } from 'node:module'; const require = __tesseraRequire(import.meta.url);",
  },
});
await utimes(join(outdir, 'main.js'), started, started);
