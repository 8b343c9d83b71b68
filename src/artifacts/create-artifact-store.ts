import { join, resolve } from 'node:path';
import type { TesseraConfig } from '../config/defaults.js';
import { TesseraError } from '../errors.js';
import type { ArtifactStore } from './artifact-store.js';
import { FilesystemArtifactStore } from './filesystem-artifact-store.js';
import { parseS3Url, S3ArtifactStore } from './s3-artifact-store.js';

/**
 * The artifact store `artifactsStore` names: a directory (default `<dataDir>/artifacts`), or
 * `s3://bucket[/prefix]` with `artifactsS3Endpoint` and `artifactsS3Region`, and credentials from
 * `TESSERA_ARTIFACTS_S3_ACCESS_KEY_ID`/`TESSERA_ARTIFACTS_S3_SECRET_ACCESS_KEY` (else the usual
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`), never from the configuration
 * itself, so they appear in no settings dump.
 *
 * @throws TesseraError `ERR_CONFIG_INVALID` for an S3 store without credentials.
 */
export function createArtifactStore(config: TesseraConfig, env: NodeJS.ProcessEnv): ArtifactStore {
  const s3 = parseS3Url(config.artifactsStore);
  if (s3 === undefined) {
    return new FilesystemArtifactStore(
      config.artifactsStore === ''
        ? join(resolve(config.dataDir), 'artifacts')
        : resolve(config.artifactsStore),
    );
  }
  const accessKeyId = env.TESSERA_ARTIFACTS_S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.TESSERA_ARTIFACTS_S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new TesseraError(
      'ERR_CONFIG_INVALID',
      'artifactsStore is an s3:// bucket: set TESSERA_ARTIFACTS_S3_ACCESS_KEY_ID and TESSERA_ARTIFACTS_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
    );
  }
  const sessionToken = env.TESSERA_ARTIFACTS_S3_SESSION_TOKEN ?? env.AWS_SESSION_TOKEN;
  return new S3ArtifactStore(
    {
      endpoint: config.artifactsS3Endpoint || `https://s3.${config.artifactsS3Region}.amazonaws.com`,
      region: config.artifactsS3Region,
      bucket: s3.bucket,
      prefix: s3.prefix,
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    },
    join(resolve(config.dataDir), 'artifacts-spool'),
  );
}
