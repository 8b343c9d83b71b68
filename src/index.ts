/**
 * Tessera's programmatic surface. Relying parties usually want `tessera-ci/verify` instead.
 */
export { CONFIG_DEFAULTS, type TesseraConfig } from './config/defaults.js';
export { type ConfigInput, loadConfig } from './config/load.js';
export { ERROR_CATALOG, type ErrorCode, isTesseraError, TesseraError } from './errors.js';
