import { TesseraError } from '../errors.js';

/** GitLab's default limits on a `reports:dotenv` file: 5 KB and 20 variables. */
export const DOTENV_LIMITS = { maxBytes: 5 * 1024, maxVariables: 20 } as const;

const KEY = /^[A-Za-z0-9_]+$/;

function invalid(message: string): TesseraError {
  return new TesseraError('ERR_ARTIFACTS_UPLOAD_INVALID', `the dotenv report ${message}`);
}

/**
 * Reads a `reports:dotenv` file as GitLab does: one `KEY=VALUE` per line, names of letters,
 * digits and `_`, surrounding whitespace and one pair of matching quotes around the value dropped,
 * no multi-line values; blank lines and `#` comments skipped. At most
 * {@link DOTENV_LIMITS.maxBytes} bytes and {@link DOTENV_LIMITS.maxVariables} variables.
 *
 * @throws TesseraError `ERR_ARTIFACTS_UPLOAD_INVALID` naming the line or the limit.
 */
export function parseDotenv(content: Buffer): Record<string, string> {
  if (content.length > DOTENV_LIMITS.maxBytes)
    throw invalid(`is ${content.length} bytes; at most ${DOTENV_LIMITS.maxBytes} bytes (5 KB) are allowed`);
  const variables = new Map<string, string>();
  content
    .toString('utf8')
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const equals = line.indexOf('=');
      if (equals <= 0) throw invalid(`line ${index + 1} is not KEY=VALUE`);
      const key = line.slice(0, equals).trim();
      if (!KEY.test(key))
        throw invalid(`line ${index + 1}: "${key}" is not a variable name (letters, digits and _)`);
      let value = line.slice(equals + 1).trim();
      const quoted = /^(["'])(.*)\1$/s.exec(value);
      if (quoted) value = quoted[2]!;
      variables.set(key, value);
    });
  if (variables.size > DOTENV_LIMITS.maxVariables)
    throw invalid(`has ${variables.size} variables; at most ${DOTENV_LIMITS.maxVariables} are allowed`);
  return Object.fromEntries(variables);
}
