import type { FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../errors.js';

/** A parameter value as Rack (GitLab's Grape) nests them: a string, a list, or a hash of them. */
export type GitLabParamValue = string | GitLabParamValue[] | GitLabParams;

/** Parameters by name, nested as GitLab reads `a[]=`, `a[b]=` and `a[][b]=`. */
export interface GitLabParams {
  [name: string]: GitLabParamValue;
}

/** Deeper nesting than any GitLab route takes is refused rather than walked. */
const MAX_DEPTH = 8;

function isHash(value: GitLabParamValue | undefined): value is GitLabParams {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function conflict(name: string): TesseraError {
  return new TesseraError(
    'ERR_VALIDATION',
    `parameter ${name} is given both as a value and as a list or hash`,
    {
      details: { field: name },
    },
  );
}

/**
 * Puts `value` under `name` into `params` as Rack's `normalize_params` does: `a` sets a value (the
 * last one wins), `a[]` appends to a list, `a[b]` sets in a hash, and `a[][b]` sets in the last
 * hash of a list, starting a new one when that hash already has `b`
 * (`variables[][key]=A&variables[][value]=1&variables[][key]=B` is two variables).
 */
function normalize(params: GitLabParams, name: string, value: string, depth: number, whole: string): void {
  if (depth > MAX_DEPTH) {
    throw new TesseraError('ERR_VALIDATION', `parameter ${whole} is nested too deeply`, {
      details: { field: whole },
    });
  }
  const match = /^[[\]]*([^[\]]+)\]*/.exec(name);
  const key = match?.[1] ?? '';
  // An own property named __proto__ would change the object's prototype: such a name is dropped.
  if (key === '' || key === '__proto__') return;
  const after = name.slice(match?.[0].length ?? 0);
  if (after === '' || after === '[') {
    if (Array.isArray(params[key]) || isHash(params[key])) throw conflict(whole);
    params[after === '' ? key : name] = value;
    return;
  }
  if (after === '[]') {
    const list = params[key] ?? [];
    if (!Array.isArray(list)) throw conflict(whole);
    list.push(value);
    params[key] = list;
    return;
  }
  const child = /^\[\]\[([^[\]]+)\]$/.exec(after)?.[1] ?? /^\[\](.+)$/.exec(after)?.[1];
  if (child !== undefined) {
    const list = params[key] ?? [];
    if (!Array.isArray(list)) throw conflict(whole);
    const last = list[list.length - 1];
    const childKey = /^[[\]]*([^[\]]+)/.exec(child)?.[1] ?? child;
    if (isHash(last) && !(childKey in last)) normalize(last, child, value, depth + 1, whole);
    else {
      const hash: GitLabParams = {};
      normalize(hash, child, value, depth + 1, whole);
      list.push(hash);
    }
    params[key] = list;
    return;
  }
  const hash = params[key] ?? {};
  if (!isHash(hash)) throw conflict(whole);
  normalize(hash, after, value, depth + 1, whole);
  params[key] = hash;
}

/**
 * Parses a query string or an `application/x-www-form-urlencoded` body the way GitLab does:
 * `tag_list[]=a&tag_list[]=b` is a list, `variables[KEY]=v` a hash, `variables[][key]=K&variables[][value]=v`
 * a list of hashes; a plain name given twice keeps its last value. Values stay strings: the route's
 * schema coerces numbers and booleans.
 *
 * @throws {TesseraError} `ERR_VALIDATION` for a name that is both a value and a list or hash.
 */
export function parseGitLabParams(text: string): GitLabParams {
  return nestGitLabParams(new URLSearchParams(text));
}

/** Nests name–value pairs as {@link parseGitLabParams} does, whatever they were read from. */
export function nestGitLabParams(pairs: Iterable<readonly [string, string]>): GitLabParams {
  const params: GitLabParams = {};
  for (const [name, value] of pairs) normalize(params, name, value, 0, name);
  return params;
}

/** At most this many parts in one multipart body: more is no form a GitLab route takes. */
const MAX_MULTIPART_PARTS = 1000;

function badMultipart(why: string): TesseraError {
  return new TesseraError('ERR_VALIDATION', `the multipart/form-data body is malformed: ${why}`);
}

/**
 * Reads a `multipart/form-data` body (what `curl --form` sends, as in GitLab's documentation) into
 * name–value pairs, nested as GitLab nests them (see {@link parseGitLabParams}). A file part
 * (`--form "value=@file"`) gives its content as the value, as GitLab reads a variable's value from
 * a file. Values are UTF-8.
 *
 * @throws {TesseraError} `ERR_VALIDATION` for a body without the content type's boundary, a part
 *   without a name, or too many parts.
 */
export function parseMultipartParams(body: Buffer, contentType: string): GitLabParams {
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const delimiter = boundary?.[1] ?? boundary?.[2];
  if (!delimiter) throw badMultipart('the Content-Type names no boundary');
  // latin1 maps every byte to one character, so splitting never cuts a UTF-8 sequence apart.
  const text = body.toString('latin1');
  const sections = text.split(`--${delimiter}`);
  if (sections.length < 2) throw badMultipart('no part starts with the boundary');
  const pairs: Array<[string, string]> = [];
  for (const section of sections.slice(1)) {
    if (section.startsWith('--')) break;
    if (pairs.length >= MAX_MULTIPART_PARTS) throw badMultipart(`more than ${MAX_MULTIPART_PARTS} parts`);
    const part = section.replace(/^\r?\n/, '').replace(/\r?\n$/, '');
    const split = part.search(/\r?\n\r?\n/);
    if (split === -1) throw badMultipart('a part has no blank line after its headers');
    const headers = part.slice(0, split);
    const content = part.slice(split).replace(/^\r?\n\r?\n/, '');
    const name = /content-disposition:[^\r\n]*?;\s*name="([^"]*)"/i.exec(headers)?.[1];
    if (name === undefined || name === '') throw badMultipart('a part has no name');
    const decode = (value: string) => Buffer.from(value, 'latin1').toString('utf8');
    pairs.push([decode(name), decode(content)]);
  }
  return nestGitLabParams(pairs);
}

/**
 * A query string as {@link parseGitLabParams} reads it, for Fastify's router, which cannot answer
 * an error from its parser: a name both a value and a list falls back to plain last-value-wins
 * pairs, and the route's schema names what it does not take.
 */
export function parseGitLabQuery(text: string): GitLabParams {
  if (text.length === 0) return {};
  try {
    return parseGitLabParams(text);
  } catch {
    const flat: GitLabParams = {};
    for (const [name, value] of new URLSearchParams(text)) if (name !== '__proto__') flat[name] = value;
    return flat;
  }
}

/** GitLab's boolean words (Grape's `Boolean` coercion), any case; Ajv itself knows only `true` and `false`. */
const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  t: true,
  yes: true,
  y: true,
  on: true,
  '1': true,
  false: false,
  f: false,
  no: false,
  n: false,
  off: false,
  '0': false,
};

interface PropertySchema {
  type?: unknown;
  anyOf?: readonly PropertySchema[];
  properties?: Readonly<Record<string, PropertySchema>>;
}

/** Whether `schema` takes a boolean and no string (a string field keeps the word `yes`). */
function takesBoolean(schema: PropertySchema | undefined): boolean {
  if (schema === undefined) return false;
  const types = schema.anyOf ? schema.anyOf.map((s) => s.type) : [schema.type];
  return types.includes('boolean') && !types.includes('string');
}

/** Turns GitLab's boolean words into booleans wherever `schema` has a boolean property. */
function coerceBooleans(values: unknown, schema: PropertySchema | undefined): void {
  if (typeof values !== 'object' || values === null || Array.isArray(values) || !schema?.properties) return;
  const record = values as Record<string, unknown>;
  for (const [name, property] of Object.entries(schema.properties)) {
    const value = record[name];
    if (typeof value !== 'string' || !takesBoolean(property)) continue;
    const word = BOOLEAN_WORDS[value.toLowerCase()];
    if (word !== undefined) record[name] = word;
  }
}

/**
 * GitLab's parameter semantics, before the route's schema validates (a `preValidation` hook):
 *
 * - Grape (GitLab's API framework) merges the query string into the parameters of every request,
 *   so a client may send a POST's or PUT's parameters in its query string (gitbeaker's
 *   `ProtectedBranches.protect` does). Each query parameter the body lacks is copied into an object
 *   body (or makes one); the body wins where both name a parameter. A body that is not an object
 *   (a job trace) is left alone.
 * - Booleans take GitLab's words in any case (`True` from Python, `yes`, `on`, `1`, …) in the
 *   query and the body, wherever the route's schema has a boolean parameter.
 */
export async function applyGitLabParamSemantics(
  request: FastifyRequest,
  _reply: FastifyReply,
): Promise<void> {
  const schema = request.routeOptions.schema as
    | { querystring?: PropertySchema; body?: PropertySchema }
    | undefined;
  const query = request.query as Record<string, unknown> | undefined;
  if (request.method !== 'GET' && request.method !== 'HEAD' && query && Object.keys(query).length > 0) {
    const body = request.body;
    if (body === undefined || body === null) request.body = { ...query };
    else if (typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)) {
      const merged = body as Record<string, unknown>;
      for (const name of Object.keys(query)) if (!(name in merged)) merged[name] = query[name];
    }
  }
  if (schema === undefined) return;
  coerceBooleans(query, schema.querystring);
  coerceBooleans(request.body, schema.body);
}
