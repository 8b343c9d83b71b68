import type { Store } from '../../src/store/open-store.js';
import { repositories } from '../../src/store/repositories.js';

const now = 1_790_000_000_000;

/**
 * Fills a fresh store with one group, project and pipeline holding `count` pending jobs named
 * `job-0` … and answers the jobs' ids in creation order (the store tests and the statement benchmark).
 *
 * @example
 * ```ts
 * const ids = await seedJobs(store, 10);
 * ```
 */
export async function seedJobs(store: Store, count: number): Promise<number[]> {
  const repos = repositories(store.db);
  const group = await repos.groups.create({
    name: 'g',
    path: 'g',
    fullPath: 'g',
    parentId: null,
    visibility: 'private',
    createdAt: now,
  });
  const project = await repos.projects.create({
    namespaceId: group.id,
    name: 'p',
    path: 'p',
    pathWithNamespace: 'g/p',
    visibility: 'private',
    repositoryUrl: '/x',
    defaultBranch: 'main',
    ciConfigPath: '.gitlab-ci.yml',
    subClaimComponents: ['project_path'],
    allowedAudiences: null,
    tokenMaxLifetime: null,
    jobTimeout: null,
    createdAt: now,
    updatedAt: now,
  });
  const pipeline = await store.transaction((tx) =>
    repositories(tx).pipelines.create({
      projectId: project.id,
      sha: 'a'.repeat(40),
      ref: 'main',
      refType: 'branch',
      refProtected: false,
      source: 'api',
      status: 'created',
      userId: null,
      ciConfigPath: '.gitlab-ci.yml',
      ciConfigSha: 'a'.repeat(40),
      variables: {},
      apiVariables: {},
      warnings: [],
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
    }),
  );
  const ids: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const job = await repos.jobs.create({
      pipelineId: pipeline.id,
      projectId: project.id,
      name: `job-${index}`,
      stage: 'test',
      stageIndex: 0,
      status: 'pending',
      whenCondition: 'on_success',
      allowFailure: false,
      spec: { script: [`echo ${index}`] },
      needs: null,
      tags: [],
      environmentName: null,
      attempt: 0,
      userId: null,
      timeoutSeconds: 3600,
      createdAt: now + index,
    });
    ids.push(job.id);
  }
  return ids;
}
