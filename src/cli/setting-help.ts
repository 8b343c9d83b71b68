import { CONFIG_DEFAULTS, CONFIG_ENV, type TesseraConfig } from '../config/defaults.js';

/** How a setting's empty default reads in `--help`. */
const EMPTY_DEFAULTS: { readonly [K in keyof TesseraConfig]?: string } = {
  issuer: 'http://<host>:<port>, with localhost for a loopback host',
  database: 'SQLite in the data directory',
};

/**
 * The end of a `--help` line for a setting of the shared configuration: its environment variable
 * and its default, from the one place both are defined, e.g. `(env: TESSERA_PORT, default: 8080)`.
 */
export function settingHelp(key: keyof TesseraConfig): string {
  const fallback = CONFIG_DEFAULTS[key];
  const shown = fallback === '' ? (EMPTY_DEFAULTS[key] ?? 'none') : String(fallback);
  return `(env: ${CONFIG_ENV[key]}, default: ${shown})`;
}
