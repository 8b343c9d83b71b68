// Bundles the `tessera` command line (src/cli/main.ts and everything it reaches, dependencies
// included) into one CommonJS file, dist/cli-bundle/main.cjs, with esbuild. Importing the ~150
// files of dist/ plus Fastify, Kysely, jose, yaml, pino and ajv one module at a time costs about
// 430 ms before `tessera run` does anything; one minified file loads in a fraction of that, and
// bin/tessera.js loads it through V8's code cache (see there), which Node 20 offers for scripts
// only, not for ES modules. The library exports (dist/index.js, dist/verify) stay tsc's.
//
//   node scripts/build-cli-bundle.mjs [--outdir DIR]
//
// DIR (default dist/cli-bundle) must sit two directories below a package root holding bin/tessera.js:
// src/runner/agent.ts finds the bin as `new URL('../../bin/tessera.js', import.meta.url)`, which
// in the bundle is the URL of main.cjs.
import { rm, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = resolve(values.outdir ?? join(root, 'dist', 'cli-bundle'));
const outfile = join(outdir, 'main.cjs');

// bin/tessera.js trusts the bundle when main.cjs is at least as new as every file in src/. Dating
// main.cjs to when the build started keeps an edit saved during the build from looking built.
// Removing the directory also removes the code caches bin wrote beside the previous bundle.
const started = new Date();
await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Every import() becomes a require() inside a promise: a script run through node:vm has no
  // module loader for import(). A command imported lazily in main.ts is still evaluated only
  // when named, since esbuild wraps each such module in an initializer.
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__tesseraModuleUrl' },
  banner: { js: "var __tesseraModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // better-sqlite3 is a native addon that finds its .node file relative to its own package, and pg
  // is loaded only for a PostgreSQL store; both stay in node_modules. pino is bundled: its only
  // code that needs its own files on disk (worker scripts found through __dirname) serves
  // transports, which Tessera never configures.
  external: ['better-sqlite3', 'pg'],
  // The web UI's pages are TSX rendered with Preact (tsconfig.json says the same; stated here too so
  // a build from a layout without that tsconfig cannot fall back to React's classic JSX).
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  // TesseraError sets `this.name = new.target.name`, and error names reach logs and bug reports.
  keepNames: true,
  // Linked, not inline: the bundle stays small to parse, and a stack trace from a bug report can
  // be mapped offline. Node reads the map only under --enable-source-maps, which bin never sets.
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
});
await utimes(outfile, started, started);
