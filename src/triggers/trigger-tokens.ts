import type { Coordinator } from '../coordinator/coordinator.js';
import { generateSecret, hashesEqual, hashSecret } from '../coordinator/secret-token.js';
import { TesseraError } from '../errors.js';
import { MAX_PIPELINE_INPUTS } from '../pipeline/pipeline-inputs.js';
import type { PipelineTriggerRecord } from '../store/repositories/pipeline-triggers.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';

/** GitLab's prefix of pipeline trigger tokens, so secret scanners recognise them. */
export const TRIGGER_TOKEN_PREFIX = 'glptt-';

/** A new trigger and its token (shown once, to its owner). */
export interface CreatedTrigger {
  trigger: PipelineTriggerRecord;
  token: string;
}

/** Creates a trigger token owned by `owner`: pipelines it starts run as `owner`. Only the hash is stored. */
export async function createTrigger(
  coordinator: Coordinator,
  project: ProjectRecord,
  owner: UserRecord,
  description: string,
): Promise<CreatedTrigger> {
  const secret = generateSecret(TRIGGER_TOKEN_PREFIX);
  const now = coordinator.clock();
  const trigger = await coordinator.repos.pipelineTriggers.create({
    projectId: project.id,
    ownerId: owner.id,
    description,
    tokenHash: secret.hash,
    tokenStart: secret.value.slice(TRIGGER_TOKEN_PREFIX.length, TRIGGER_TOKEN_PREFIX.length + 4),
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
  });
  return { trigger, token: secret.value };
}

/**
 * The one refusal of a trigger call, whatever was wrong (the token, its owner, the project), so
 * that the answer tells nothing about which projects exist.
 */
export function invalidTriggerToken(): TesseraError {
  return new TesseraError(
    'ERR_TRIGGER_TOKEN_INVALID',
    'the token is not a trigger token of this project nor the job token of a running job',
  );
}

/** Who a token given to `POST /projects/:id/trigger/pipeline` starts the pipeline as, and with which source. */
export type TriggerAuthority =
  | { source: 'trigger'; user: UserRecord; trigger: PipelineTriggerRecord }
  | { source: 'pipeline'; user: UserRecord; jobId: number };

/**
 * Resolves the token of a trigger call on `project`: a trigger token of the project (the pipeline
 * runs as its owner, source `trigger`), or the `CI_JOB_TOKEN` of a running job (runs as that job's
 * user, source `pipeline`, GitLab's multi-project pipeline). Tokens are looked up by their SHA-256
 * and compared in constant time.
 *
 * @throws TesseraError `ERR_TRIGGER_TOKEN_INVALID` for anything else (a wrong token, another
 *   project's trigger, a finished job's token, a blocked owner).
 */
export async function resolveTriggerToken(
  coordinator: Coordinator,
  project: ProjectRecord,
  token: string,
): Promise<TriggerAuthority> {
  const invalid = invalidTriggerToken;
  if (token === '' || token.length > 512) throw invalid();
  const hash = hashSecret(token);
  const repos = coordinator.repos;
  if (token.startsWith(TRIGGER_TOKEN_PREFIX)) {
    const trigger = await repos.pipelineTriggers.findByTokenHash(hash);
    if (!trigger || !hashesEqual(trigger.tokenHash, hash) || trigger.projectId !== project.id)
      throw invalid();
    const user = await repos.users.findById(trigger.ownerId);
    if (user?.state !== 'active') throw invalid();
    await repos.pipelineTriggers.update(trigger.id, { lastUsedAt: coordinator.clock() });
    return { source: 'trigger', user, trigger };
  }
  const job = await repos.pipelineTriggers.findJobByTokenHash(hash);
  if (!job || !hashesEqual(job.tokenHash, hash) || job.status !== 'running' || job.userId === null) {
    throw invalid();
  }
  const user = await repos.users.findById(job.userId);
  if (user?.state !== 'active') throw invalid();
  return { source: 'pipeline', user, jobId: job.id };
}

/**
 * The variables of a trigger call: `variables[KEY]=value` fields of a form body or query string,
 * or a `variables` object of a JSON body. Keys must be letters, digits and underscores.
 *
 * @throws TesseraError `ERR_VALIDATION` naming the field to fix.
 */
export function triggerVariables(
  ...sources: Array<Record<string, unknown> | undefined>
): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown, field: string) => {
    if (
      !/^[A-Za-z0-9_]{1,255}$/.test(key) ||
      (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    ) {
      throw new TesseraError(
        'ERR_VALIDATION',
        `${field} must be variables[KEY]=value with a key of letters, digits and underscores and a string value`,
        { details: { field } },
      );
    }
    const text = String(value);
    if (text.length > 65536) {
      throw new TesseraError('ERR_VALIDATION', `${field} is longer than 65536 characters`, {
        details: { field },
      });
    }
    out[key] = text;
  };
  for (const source of sources) {
    if (!source) continue;
    for (const [name, value] of Object.entries(source)) {
      const bracket = /^variables\[(.*)\]$/.exec(name);
      if (bracket) put(bracket[1] ?? '', value, name);
      else if (name === 'variables' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const [key, inner] of Object.entries(value)) put(key, inner, `variables.${key}`);
      } else if (name === 'variables' && value !== undefined) {
        throw new TesseraError('ERR_VALIDATION', 'variables must be an object of KEY: value pairs', {
          details: { field: 'variables' },
        });
      }
    }
    if (Object.keys(out).length > 200) {
      throw new TesseraError('ERR_VALIDATION', 'at most 200 variables may be given', {
        details: { field: 'variables' },
      });
    }
  }
  return out;
}

/**
 * The pipeline inputs of a trigger call (GitLab's `inputs`): `inputs[name]=value` fields of a form
 * body or query string (strings, read as the input's type later), or an `inputs` object of a JSON
 * body. `undefined` when none is given.
 *
 * @throws TesseraError `ERR_VALIDATION` naming the field to fix.
 */
export function triggerInputs(
  ...sources: Array<Record<string, unknown> | undefined>
): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  const put = (name: string, value: unknown, field: string) => {
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      throw new TesseraError(
        'ERR_VALIDATION',
        `${field} must be inputs[name]=value with a name of letters, digits, _ and -`,
        { details: { field } },
      );
    }
    out ??= Object.create(null) as Record<string, unknown>;
    out[name] = value;
  };
  for (const source of sources) {
    if (!source) continue;
    for (const [name, value] of Object.entries(source)) {
      const bracket = /^inputs\[(.*)\]$/.exec(name);
      if (bracket) put(bracket[1] ?? '', value, name);
      else if (name === 'inputs' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const [key, inner] of Object.entries(value)) put(key, inner, `inputs.${key}`);
      } else if (name === 'inputs' && value !== undefined) {
        throw new TesseraError('ERR_VALIDATION', 'inputs must be an object of name: value pairs', {
          details: { field: 'inputs' },
        });
      }
    }
  }
  if (out !== undefined && Object.keys(out).length > MAX_PIPELINE_INPUTS) {
    throw new TesseraError('ERR_VALIDATION', `at most ${MAX_PIPELINE_INPUTS} inputs may be given`, {
      details: { field: 'inputs' },
    });
  }
  return out;
}
