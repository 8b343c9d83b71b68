import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { buildDiscoveryDocument } from '../oidc/discovery.js';
import { withKeyring } from './keys.js';
import { settingHelp } from './setting-help.js';

interface ExportFlags {
  dataDir?: string;
  database?: string;
  issuer?: string;
}

/**
 * Writes the discovery document and the JWKS of the coordinator's keys into `dir`, laid out as
 * they are served (`.well-known/openid-configuration`, `oauth/discovery/keys`), for hosting
 * them at the issuer URL when the coordinator itself is not reachable from relying parties.
 * Answers the files written.
 */
export async function exportOidcDocuments(
  dir: string,
  flags: ExportFlags,
  env: NodeJS.ProcessEnv = process.env,
) {
  const config = loadConfig({ dataDir: flags.dataDir, database: flags.database, issuer: flags.issuer }, env);
  return withKeyring(
    flags,
    async (keyring) => {
      const jwks = await keyring.jwks();
      const discovery = buildDiscoveryDocument({
        issuer: config.issuer,
        algorithms: await keyring.algorithms(),
      });
      const discoveryPath = join(dir, '.well-known', 'openid-configuration');
      const jwksPath = join(dir, 'oauth', 'discovery', 'keys');
      await mkdir(join(dir, '.well-known'), { recursive: true });
      await mkdir(join(dir, 'oauth', 'discovery'), { recursive: true });
      await writeFile(discoveryPath, `${JSON.stringify(discovery, null, 2)}\n`);
      await writeFile(jwksPath, jwks.body);
      return { issuer: config.issuer, files: [discoveryPath, jwksPath] };
    },
    env,
  );
}

/** Registers `tessera oidc export DIR [--issuer URL]`. */
export function registerOidcCommand(program: Command): Command {
  const oidc = program.command('oidc').description('OpenID Connect provider documents');
  oidc
    .command('export')
    .description('Write the discovery document and JWKS into DIR for static hosting at the issuer URL')
    .argument('<dir>', 'where to write .well-known/openid-configuration and oauth/discovery/keys')
    .option('--issuer <url>', `the public issuer URL ${settingHelp('issuer')}`)
    .option('--data-dir <dir>', `data directory of the coordinator ${settingHelp('dataDir')}`)
    .option('--database <url>', `postgres:// URL of the coordinator database ${settingHelp('database')}`)
    .action(async (dir: string, flags: ExportFlags) => {
      const result = await exportOidcDocuments(dir, flags);
      process.stdout.write(
        `issuer ${result.issuer}\n${result.files.map((file) => `wrote ${file}`).join('\n')}\n`,
      );
    });
  return oidc;
}
