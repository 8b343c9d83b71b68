import { randomBytes } from 'node:crypto';
import { type Command, Option } from 'commander';
import type { TesseraConfig } from '../config/defaults.js';
import { loadConfig } from '../config/load.js';
import { TesseraError } from '../errors.js';
import { isSigningAlgorithm } from '../keys/algorithms.js';
import { assertKeysOpen } from '../keys/assert-keys-open.js';
import { type LoadedKeyEncryptionKey, loadKeyEncryptionKey } from '../keys/key-encryption.js';
import { Keyring, type SigningKeySummary } from '../keys/keyring.js';
import { renderSigningKey } from '../keys/signing-key-json.js';
import { openStore, type Store } from '../store/open-store.js';
import { repositories } from '../store/repositories.js';
import { settingHelp } from './setting-help.js';

interface StoreFlags {
  dataDir?: string;
  database?: string;
  json?: boolean;
}

/**
 * Opens the coordinator's existing store and keyring for a one-shot command, runs `fn`, and
 * closes the store. Never creates a store or a key-encryption key: run in the wrong directory, a
 * command must say where it looked rather than work on a new, empty store. `sealsKeys` loads the
 * key-encryption key (rotate and revoke make new keys); reading the list or the public keys does
 * not need it. Keys change in the database, so running coordinators pick the change up on their
 * next refresh (a few seconds).
 *
 * @throws TesseraError `ERR_STORE_NOT_FOUND` naming the data directory or database it looked at.
 */
export async function withKeyring<T>(
  flags: StoreFlags,
  fn: (keyring: Keyring, config: TesseraConfig, kek: LoadedKeyEncryptionKey | undefined) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
  options: { sealsKeys?: boolean } = {},
): Promise<T> {
  const config = loadConfig({ dataDir: flags.dataDir, database: flags.database }, env);
  let store: Store | undefined;
  try {
    store = await openStore({ database: config.database, dataDir: config.dataDir, create: false });
    const kek = options.sealsKeys
      ? await loadKeyEncryptionKey({ env, dataDir: config.dataDir, create: false })
      : undefined;
    const keyring = new Keyring({
      repository: repositories(store.db).signingKeys,
      // Listing keys and rendering the JWKS never open or seal a private key: a throwaway key will do.
      kek: kek?.key ?? randomBytes(32),
      jwksCachePeriod: config.jwksCachePeriod,
      maxTokenLifetime: config.tokenMaxLifetime,
    });
    return await fn(keyring, config, kek);
  } finally {
    await store?.close();
  }
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/** One line per key: kid, alg, state, published, created, activated, retire after / revoked. */
export function formatKeys(keys: readonly SigningKeySummary[]): string {
  const rows = [
    ['KID', 'ALG', 'STATE', 'PUBLISHED', 'CREATED', 'ACTIVATED', 'RETIRE AFTER', 'REVOKED'],
    ...keys.map((key) => [
      key.kid,
      key.alg,
      key.state,
      key.published ? 'yes' : 'no',
      iso(key.createdAt),
      iso(key.activatedAt),
      iso(key.retireAfter),
      iso(key.revokedAt),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return `${rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/**
 * Registers `tessera keys list|rotate|revoke` on the same store as `tessera serve`
 * (`--data-dir`, `--database`, or their `TESSERA_*` variables). Never prints key material.
 */
export function registerKeysCommand(program: Command): Command {
  const keys = program.command('keys').description('List, rotate and revoke the signing keys');
  const storeOptions = (command: Command) =>
    command
      .option('--data-dir <dir>', `data directory of the coordinator ${settingHelp('dataDir')}`)
      .option('--database <url>', `postgres:// URL of the coordinator database ${settingHelp('database')}`)
      .option('--json', "print JSON: the API's field names, ISO 8601 times");

  storeOptions(keys.command('list').description('List every signing key and its state')).action(
    async (flags: StoreFlags) => {
      const list = await withKeyring(flags, (keyring) => keyring.list());
      process.stdout.write(
        flags.json ? `${JSON.stringify(list.map(renderSigningKey), null, 2)}\n` : formatKeys(list),
      );
    },
  );

  storeOptions(
    keys
      .command('rotate')
      .description('Rotate a lineage: next → current, current → previous, a fresh next')
      .addOption(new Option('--alg <alg>', 'the lineage to rotate: RS256 or ES256').default('RS256', 'RS256'))
      .option('--force', 'rotate even if the next key is younger than the JWKS cache period'),
  ).action(async (flags: StoreFlags & { alg: string; force?: boolean }) => {
    if (!isSigningAlgorithm(flags.alg)) {
      throw new TesseraError('ERR_KEYS_ALGORITHM_UNSUPPORTED', '--alg must be RS256 or ES256');
    }
    const alg = flags.alg;
    const result = await withKeyring(
      flags,
      async (keyring, _config, kek) => {
        // The next key becomes the signer: one the coordinator's key-encryption key cannot open
        // (another key in this shell) must not be promoted, nor a fresh one sealed under it.
        if (kek) await assertKeysOpen(keyring, kek, [alg]);
        return keyring.rotate(alg, { force: flags.force === true });
      },
      process.env,
      { sealsKeys: true },
    );
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(result, null, 2)}\n`
        : `rotated ${result.alg}: current ${result.current}, previous ${result.previous ?? '-'}, next ${result.next}\n`,
    );
  });

  storeOptions(
    keys
      .command('revoke')
      .description('Remove a key from the JWKS at once and never sign with it again')
      .argument('<kid>')
      // A kid is base64url, so one in 64 begins with "-": it is the kid, not an unknown option.
      .allowUnknownOption(),
  ).action(async (kid: string, flags: StoreFlags) => {
    // Not checked against the stored keys: revoking them is the way out when their key-encryption key is lost.
    const key = await withKeyring(flags, (keyring) => keyring.revoke(kid), process.env, {
      sealsKeys: true,
    });
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(renderSigningKey(key), null, 2)}\n`
        : `revoked ${key.kid} (${key.alg})\n`,
    );
  });
  return keys;
}
