import { chmod, open } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import { repositories } from '../store/repositories.js';
import { generateSecret, hashSecret, TOKEN_PREFIXES } from './secret-token.js';

/** File in the data directory that receives a generated admin token (mode 0600). */
export const ADMIN_TOKEN_FILE = 'admin-token';
/** Environment variable whose value becomes `root`'s personal access token. */
export const BOOTSTRAP_ADMIN_TOKEN_ENV = 'TESSERA_BOOTSTRAP_ADMIN_TOKEN';

/** What {@link bootstrapAdmin} did. */
export interface BootstrapResult {
  /** The generated token, to print once; undefined when none was generated. */
  generatedToken?: string;
  /** Where the generated token was written. */
  tokenFile?: string;
  created: boolean;
}

/**
 * On first start, creates the admin user `root` with a personal access token: the value of
 * `TESSERA_BOOTSTRAP_ADMIN_TOKEN` when set, otherwise a generated one written to
 * `<dataDir>/admin-token` (0600) for the caller to print once. On later starts, a bootstrap token
 * that is not stored yet is added to `root` (so an operator can set it after the first start).
 */
export async function bootstrapAdmin(options: {
  store: Store;
  dataDir: string;
  env: Readonly<Record<string, string | undefined>>;
  clock: () => number;
}): Promise<BootstrapResult> {
  const fromEnv = options.env[BOOTSTRAP_ADMIN_TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '' && (fromEnv.length < 16 || /\s/.test(fromEnv))) {
    throw new TesseraError(
      'ERR_CONFIG_INVALID',
      `${BOOTSTRAP_ADMIN_TOKEN_ENV} must be at least 16 characters without spaces`,
    );
  }
  const now = options.clock();
  return options.store.transaction(async (tx) => {
    const repos = repositories(tx);
    let root = await repos.users.findByUsername('root');
    const created = root === undefined;
    root ??= await repos.users.create({
      username: 'root',
      email: 'root@localhost',
      name: 'Administrator',
      isAdmin: true,
      createdAt: now,
    });
    if (fromEnv) {
      const hash = hashSecret(fromEnv);
      if (!(await repos.users.findAccessTokenByHash(hash))) {
        await repos.users.createAccessToken({
          userId: root.id,
          name: 'bootstrap',
          scopes: ['api', 'sudo'],
          tokenHash: hash,
          createdAt: now,
          expiresAt: null,
        });
      }
      return { created };
    }
    if (!created) return { created };
    const secret = generateSecret(TOKEN_PREFIXES.personalAccess);
    await repos.users.createAccessToken({
      userId: root.id,
      name: 'bootstrap',
      scopes: ['api', 'sudo'],
      tokenHash: secret.hash,
      createdAt: now,
      expiresAt: null,
    });
    const tokenFile = join(options.dataDir, ADMIN_TOKEN_FILE);
    const handle = await open(tokenFile, 'w', 0o600);
    try {
      await handle.writeFile(`${secret.value}\n`, 'utf8');
    } finally {
      await handle.close();
    }
    await chmod(tokenFile, 0o600);
    return { created, generatedToken: secret.value, tokenFile };
  });
}
