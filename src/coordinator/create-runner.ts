import type { RunnerRecord } from '../store/repositories/runners.js';
import type { Coordinator } from './coordinator.js';
import { generateSecret, TOKEN_PREFIXES } from './secret-token.js';

/** A new runner and its token (shown once; only its hash is stored). */
export interface CreatedRunner {
  runner: RunnerRecord;
  token: string;
}

/** Creates a runner. Permission checks are the caller's (the API route, or `serve` itself). */
export async function createRunner(
  coordinator: Coordinator,
  input: {
    runnerType: RunnerRecord['runnerType'];
    groupId?: number | null;
    projectId?: number | null;
    description: string;
    tagList: string[];
    runUntagged: boolean;
    maximumTimeout?: number | null;
    paused?: boolean;
    accessLevel?: RunnerRecord['accessLevel'];
  },
): Promise<CreatedRunner> {
  const secret = generateSecret(TOKEN_PREFIXES.runner);
  const runner = await coordinator.repos.runners.create({
    runnerType: input.runnerType,
    groupId: input.groupId ?? null,
    projectId: input.projectId ?? null,
    description: input.description,
    tagList: [...new Set(input.tagList)],
    runUntagged: input.runUntagged,
    tokenHash: secret.hash,
    maximumTimeout: input.maximumTimeout ?? null,
    paused: input.paused ?? false,
    accessLevel: input.accessLevel ?? 'not_protected',
    createdAt: coordinator.clock(),
  });
  return { runner, token: secret.value };
}
