import type { Coordinator } from '../coordinator/coordinator.js';
import { TesseraError } from '../errors.js';
import type { ProjectMirrorRecord } from '../store/repositories/project-mirrors.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';

/** The pull-mirroring attributes of `POST/PUT /projects` (GitLab's names). */
export interface MirrorAttributes {
  mirror?: boolean;
  mirror_trigger_builds?: boolean;
  mirror_user_id?: number;
  only_mirror_protected_branches?: boolean;
  mirror_overwrites_diverged_branches?: boolean;
  /** Write-only: never rendered. Empty or null removes it. */
  mirror_webhook_secret?: string | null;
}

/** JSON Schema of {@link MirrorAttributes}, merged into the project routes' body schemas. */
export const MIRROR_PROPERTIES = {
  mirror: { type: 'boolean' },
  mirror_trigger_builds: { type: 'boolean' },
  mirror_user_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
  only_mirror_protected_branches: { type: 'boolean' },
  mirror_overwrites_diverged_branches: { type: 'boolean' },
  mirror_webhook_secret: { anyOf: [{ type: 'null' }, { type: 'string', maxLength: 1024 }] },
} as const;

const KEYS = Object.keys(MIRROR_PROPERTIES) as Array<keyof MirrorAttributes>;

/** The `aad` a project's webhook secret is sealed with: a sealed secret moved to another project does not open. */
export function webhookSecretPurpose(projectId: number): string {
  return `mirror-webhook-secret:${projectId}`;
}

/**
 * Refuses mirroring attributes `user` may not set, before anything is stored.
 *
 * @throws TesseraError `ERR_FORBIDDEN` for another user's id from a non-admin, `ERR_VALIDATION` for an unknown user.
 */
export async function checkMirrorAttributes(
  coordinator: Coordinator,
  user: UserRecord,
  body: MirrorAttributes,
): Promise<void> {
  const repos = coordinator.repos;
  if (body.mirror_user_id !== undefined && body.mirror_user_id !== user.id) {
    if (!user.isAdmin) {
      throw new TesseraError(
        'ERR_FORBIDDEN',
        'only an administrator may set mirror_user_id to another user',
        {
          details: { field: 'body.mirror_user_id' },
        },
      );
    }
    if (!(await repos.users.findById(body.mirror_user_id))) {
      throw new TesseraError('ERR_VALIDATION', `body.mirror_user_id: user ${body.mirror_user_id} not found`, {
        details: { field: 'body.mirror_user_id' },
      });
    }
  }
}

/**
 * Applies the mirroring attributes of a project request made by `user` (a maintainer). Enabling
 * mirroring makes `user` the mirror user unless `mirror_user_id` names one (only an administrator
 * may name someone else), schedules the first look at a random point within one interval (so
 * many projects do not poll at once), and makes that look a baseline: refs already there start
 * nothing. A new `repository_url` also starts from a baseline. The webhook secret is sealed with
 * the key-encryption key.
 *
 * @throws TesseraError `ERR_FORBIDDEN` for another user's id from a non-admin, `ERR_VALIDATION` for an unknown user.
 */
export async function applyMirrorSettings(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  body: MirrorAttributes,
  options: { repositoryChanged?: boolean } = {},
): Promise<void> {
  const repos = coordinator.repos;
  const touched = KEYS.some((key) => body[key] !== undefined);
  const existing = await repos.projectMirrors.find(project.id);
  const now = coordinator.clock();
  const firstLook = now + Math.floor(Math.random() * coordinator.config.mirrorInterval * 1000);
  if (!touched) {
    if (options.repositoryChanged && existing)
      await repos.projectMirrors.resetBaseline(project.id, firstLook);
    return;
  }
  await checkMirrorAttributes(coordinator, user, body);
  const enabling = body.mirror === true && existing?.enabled !== true;
  const secret = body.mirror_webhook_secret;
  await repos.projectMirrors.upsert(
    project.id,
    {
      ...(body.mirror === undefined ? {} : { enabled: body.mirror }),
      ...(body.mirror_trigger_builds === undefined ? {} : { triggerBuilds: body.mirror_trigger_builds }),
      ...(body.only_mirror_protected_branches === undefined
        ? {}
        : { onlyProtectedBranches: body.only_mirror_protected_branches }),
      ...(body.mirror_overwrites_diverged_branches === undefined
        ? {}
        : { overwritesDivergedBranches: body.mirror_overwrites_diverged_branches }),
      ...(body.mirror_user_id !== undefined
        ? { userId: body.mirror_user_id }
        : enabling
          ? { userId: user.id }
          : {}),
      ...(secret === undefined
        ? {}
        : {
            webhookSecret:
              secret === null || secret === ''
                ? null
                : coordinator.keyring.sealSecret(secret, webhookSecretPurpose(project.id)),
          }),
    },
    {
      enabled: false,
      triggerBuilds: false,
      userId: user.id,
      onlyProtectedBranches: false,
      overwritesDivergedBranches: false,
      nextCheckAt: firstLook,
    },
  );
  if (existing && (enabling || options.repositoryChanged)) {
    await repos.projectMirrors.resetBaseline(project.id, firstLook);
  }
}

/** The mirroring attributes of GitLab's project shape (never the webhook secret). */
export function renderMirrorAttributes(mirror: ProjectMirrorRecord | undefined) {
  return {
    mirror: mirror?.enabled ?? false,
    mirror_trigger_builds: mirror?.triggerBuilds ?? false,
    mirror_user_id: mirror?.enabled ? mirror.userId : null,
    only_mirror_protected_branches: mirror?.onlyProtectedBranches ?? false,
    mirror_overwrites_diverged_branches: mirror?.overwritesDivergedBranches ?? false,
  };
}
