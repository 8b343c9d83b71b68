import type { ProblemList } from './config-problem.js';
import type { JobSpec } from './spec.js';

/**
 * Graph pass: every `needs` entry names a visible job in the same or an earlier stage, and the
 * `needs` edges have no cycle (possible within a stage). Errors go on `jobs.<name>.needs`.
 * Iterative (Kahn's algorithm), so a 5,000-job chain cannot exhaust the stack.
 */
export function checkGraph(
  jobs: readonly JobSpec[],
  hiddenNames: ReadonlySet<string>,
  brokenNames: ReadonlySet<string>,
  problems: ProblemList,
): void {
  const byName = new Map(jobs.map((job) => [job.name, job]));
  const edges = new Map<string, string[]>();
  for (const job of jobs) checkDependencies(job, byName, brokenNames, problems);
  for (const job of jobs) checkArtifactIncludes(job, byName, brokenNames, problems);
  for (const job of jobs) {
    if (job.needs === null) continue;
    const valid: string[] = [];
    job.needs.forEach((need, index) => {
      const where = `jobs.${job.name}.needs[${index}]`;
      const target = byName.get(need.job);
      const at = { line: need.line ?? job.line };
      if (need.job === job.name) {
        problems.error(where, 'a job cannot need itself', at);
      } else if (target === undefined && brokenNames.has(need.job)) {
        // The job exists but its extends failed; that error is reported on the job itself.
      } else if (target === undefined) {
        const hint = hiddenNames.has(need.job)
          ? `"${need.job}" is a hidden job (its name starts with a dot) and never runs`
          : `"${need.job}" is not a job in this configuration`;
        problems.error(where, `${hint}; needs takes the names of jobs in the same or an earlier stage`, at);
      } else if (target.stageIndex > job.stageIndex && job.stageIndex >= 0) {
        problems.error(
          where,
          `"${need.job}" is in the later stage "${target.stage}"; a job can need only jobs of its own or earlier stages`,
          at,
        );
      } else {
        valid.push(need.job);
      }
    });
    edges.set(job.name, valid);
  }
  // Remove jobs whose needs are all satisfiable; what remains sits on or behind a cycle.
  const remaining = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const [name, targets] of edges) {
    remaining.set(name, targets.length);
    for (const target of targets) {
      const list = dependants.get(target) ?? [];
      list.push(name);
      dependants.set(target, list);
    }
  }
  const ready = jobs.map((job) => job.name).filter((name) => (remaining.get(name) ?? 0) === 0);
  while (ready.length > 0) {
    const name = ready.pop()!;
    for (const dependant of dependants.get(name) ?? []) {
      const left = (remaining.get(dependant) ?? 0) - 1;
      remaining.set(dependant, left);
      if (left === 0) ready.push(dependant);
    }
  }
  const stuck = [...remaining].filter(([, left]) => left > 0).map(([name]) => name);
  if (stuck.length > 0) {
    const cycle = findCycle(stuck, edges);
    for (const name of cycle) {
      const job = byName.get(name)!;
      problems.error(
        `jobs.${name}.needs`,
        `needs form a cycle: ${[...cycle, cycle[0]].join(' → ')}; remove one of them`,
        job,
      );
    }
  }
}

function findCycle(stuck: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[] {
  const inStuck = new Set(stuck);
  // Walk needs edges from a stuck job; some job repeats within |stuck| steps.
  let current = stuck[0]!;
  const order: string[] = [];
  const position = new Map<string, number>();
  while (!position.has(current)) {
    position.set(current, order.length);
    order.push(current);
    const next = (edges.get(current) ?? []).find((target) => inStuck.has(target));
    if (next === undefined) break;
    current = next;
  }
  const start = position.get(current) ?? 0;
  return order.slice(start);
}

/**
 * `dependencies:` names visible jobs of earlier stages (GitLab: "should be in previous stages"),
 * and, in a job with `needs`, only jobs it needs (GitLab: "should be part of needs").
 */
function checkDependencies(
  job: JobSpec,
  byName: ReadonlyMap<string, JobSpec>,
  brokenNames: ReadonlySet<string>,
  problems: ProblemList,
): void {
  if (job.dependencies === null) return;
  job.dependencies.forEach((name, index) => {
    const where = `jobs.${job.name}.dependencies[${index}]`;
    const target = byName.get(name);
    const at = { line: job.line };
    if (target === undefined) {
      if (!brokenNames.has(name))
        problems.error(
          where,
          `"${name}" is not a job in this configuration; list jobs of earlier stages`,
          at,
        );
    } else if (job.needs !== null && !job.needs.some((need) => need.job === name)) {
      problems.error(
        where,
        `"${name}" should be part of needs: a job with needs can depend only on the jobs it needs`,
        at,
      );
    } else if (job.needs === null && target.stageIndex >= job.stageIndex && job.stageIndex >= 0) {
      problems.error(where, `"${name}" should be in a previous stage than "${job.stage}"`, at);
    }
  });
}

/**
 * A dynamic child pipeline's `{ artifact, job }` names a visible job that runs before the bridge:
 * one of its `needs`, or of an earlier stage without them (GitLab refuses the parent pipeline
 * rather than failing its bridge later).
 */
function checkArtifactIncludes(
  job: JobSpec,
  byName: ReadonlyMap<string, JobSpec>,
  brokenNames: ReadonlySet<string>,
  problems: ProblemList,
): void {
  job.trigger?.include?.forEach((file, index) => {
    if (typeof file === 'string' || !('artifact' in file)) return;
    const where = `jobs.${job.name}.trigger.include[${index}].job`;
    const target = byName.get(file.job);
    const at = { line: job.line };
    if (target === undefined) {
      if (!brokenNames.has(file.job))
        problems.error(
          where,
          `"${file.job}" is not a job in this configuration; name the job whose artifacts hold ${file.artifact}`,
          at,
        );
    } else if (job.needs !== null && !job.needs.some((need) => need.job === file.job)) {
      problems.error(where, `"${file.job}" should be part of needs: the bridge needs its artifacts`, at);
    } else if (job.needs === null && target.stageIndex >= job.stageIndex && job.stageIndex >= 0) {
      problems.error(
        where,
        `"${file.job}" should be in a previous stage than "${job.stage}": its artifacts must exist when the bridge runs`,
        at,
      );
    }
  });
}
