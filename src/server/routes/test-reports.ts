import { createGunzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { countCases, parseJunit, type TestCase } from '../../artifacts/junit-report.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { TesseraError } from '../../errors.js';
import { authenticateForProjectCi } from '../authenticate.js';
import { projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

const pipelineParams = {
  type: 'object',
  required: ['id', 'pid'],
  properties: {
    ...projectParams.properties,
    pid: { type: 'integer', minimum: 1, maximum: 2147483647 },
  },
} as const;

/** Most uncompressed bytes of one job's JUnit report that are read (a bound on memory per request). */
const MAX_REPORT_BYTES = 30 * 1024 * 1024;

interface Suite {
  name: string;
  buildIds: number[];
  cases: TestCase[];
  error: string | null;
}

async function readReport(coordinator: Coordinator, storeKey: string): Promise<string> {
  const stored = await coordinator.artifactStore.get(storeKey);
  if (stored === undefined) throw new Error('the report is gone from the store');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stored.stream.pipe(createGunzip())) {
    size += (chunk as Buffer).length;
    if (size > MAX_REPORT_BYTES) {
      stored.stream.destroy();
      throw new Error(`the report is larger than ${MAX_REPORT_BYTES / (1024 * 1024)} MB`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The `reports:junit` of a pipeline's latest jobs, one suite per job name (GitLab groups so). */
async function pipelineSuites(coordinator: Coordinator, pipelineId: number): Promise<Suite[]> {
  const jobs = await coordinator.repos.jobs.listStatesByPipeline(pipelineId, true);
  const files = await coordinator.repos.jobArtifacts.listByJobs(jobs.map((job) => job.id));
  const suites = new Map<string, Suite>();
  const now = coordinator.clock();
  for (const file of files) {
    if (file.fileType !== 'junit' || file.storeKey === '' || (file.expireAt !== null && file.expireAt <= now))
      continue;
    const job = jobs.find((candidate) => candidate.id === file.jobId);
    if (job === undefined) continue;
    const suite = suites.get(job.name) ?? { name: job.name, buildIds: [], cases: [], error: null };
    suites.set(job.name, suite);
    suite.buildIds.push(job.id);
    try {
      suite.cases.push(...parseJunit(await readReport(coordinator, file.storeKey)));
    } catch (error) {
      suite.error = `JUnit XML parsing failed: ${error instanceof Error ? error.message : 'unreadable report'}`;
    }
  }
  return [...suites.values()];
}

/**
 * GitLab's unit test reports from `reports:junit`: `GET /projects/:id/pipelines/:pid/test_report`
 * (every test case) and `…/test_report_summary` (counts per suite). Reporter access, as the jobs' logs.
 */
export function registerTestReportRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const load = async (projectId: number, pipelineId: number) => {
    const pipeline = await coordinator.repos.pipelines.findById(pipelineId);
    if (!pipeline || pipeline.projectId !== projectId)
      throw new TesseraError('ERR_NOT_FOUND', `pipeline ${pipelineId} not found`);
    return pipelineSuites(coordinator, pipeline.id);
  };

  app.get<{ Params: { id: string; pid: number } }>(
    '/api/v4/projects/:id/pipelines/:pid/test_report',
    { schema: { params: pipelineParams } },
    async (request) => {
      const { project } = await authenticateForProjectCi(context, request, 'jobs');
      const suites = await load(project.id, request.params.pid);
      return {
        ...countCases(suites.flatMap((suite) => suite.cases)),
        test_suites: suites.map((suite) => ({
          name: suite.name,
          ...countCases(suite.cases),
          suite_error: suite.error,
          test_cases: suite.cases,
        })),
      };
    },
  );

  app.get<{ Params: { id: string; pid: number } }>(
    '/api/v4/projects/:id/pipelines/:pid/test_report_summary',
    { schema: { params: pipelineParams } },
    async (request) => {
      const { project } = await authenticateForProjectCi(context, request, 'jobs');
      const suites = await load(project.id, request.params.pid);
      const total = countCases(suites.flatMap((suite) => suite.cases));
      return {
        total: {
          time: total.total_time,
          count: total.total_count,
          success: total.success_count,
          failed: total.failed_count,
          skipped: total.skipped_count,
          error: total.error_count,
          suite_error: suites.find((suite) => suite.error !== null)?.error ?? null,
        },
        test_suites: suites.map((suite) => ({
          name: suite.name,
          ...countCases(suite.cases),
          build_ids: suite.buildIds,
          suite_error: suite.error,
        })),
      };
    },
  );
}
