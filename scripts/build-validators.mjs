// Generates the request validators of every route (Ajv standalone code) into one CommonJS file,
// dist/validators/validators.cjs, so that a server does not compile them when it starts: about
// 0.3 s of `tessera serve`'s start, and the first requests of the coordinator `tessera run`
// embeds. It builds the real server from tsc's dist/, so it runs after tsc and before the CLI
// bundle (which loads the file from beside it at run time and does not contain it). Each validator
// is filed under its route, HTTP part and the hash of its schema and Ajv options; a server whose
// schema differs compiles that route's validator as it would without the file.
//
//   node scripts/build-validators.mjs [--outfile FILE]
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { outfile: { type: 'string' } } });
const outfile = resolve(values.outfile ?? join(root, 'dist', 'validators', 'validators.cjs'));

const { generatePrecompiledValidators } = await import(
  new URL('../dist/server/generate-precompiled-validators.js', import.meta.url).href
);
const text = await generatePrecompiledValidators();
await mkdir(dirname(outfile), { recursive: true });
// Written whole, then renamed: a server starting meanwhile sees the old file or the new one.
const partial = `${outfile}.${process.pid}`;
try {
  await writeFile(partial, text);
  await rename(partial, outfile);
} finally {
  await rm(partial, { force: true });
}
