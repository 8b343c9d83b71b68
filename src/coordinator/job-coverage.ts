import { stripTimestampPrefixes } from '../job-log/timestamp-prefix.js';
import { compilePattern, splitPatternLiteral } from '../pipeline/expression/compile-pattern.js';
import type { Db } from '../store/open-store.js';

/** The log tail the coverage pattern is searched in, as GitLab reads only so much of a log. */
const MAX_SCANNED_CHARACTERS = 1024 * 1024;

/**
 * The coverage a job's `coverage:` pattern finds in its log, as GitLab reads it: lines from the
 * last one up, the last match on the first line that has one (its last capture group when the
 * pattern has groups), and the first number in that text. `null` when nothing matches. The
 * runner's time prefixes (FF_TIMESTAMPS) are taken off first, as GitLab does, so `^` anchors match.
 */
export function extractCoverage(pattern: string, log: string): number | null {
  const literal = splitPatternLiteral(pattern);
  if (literal === null) return null;
  const compiled = compilePattern(literal.source, literal.flags);
  if ('error' in compiled) return null;
  const lines = stripTimestampPrefixes(log.slice(-MAX_SCANNED_CHARACTERS)).split('\n');
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index]!.replace(/\r$/, '');
    const matcher = compiled.regex.matcher(line);
    let last: string | null = null;
    while (matcher.find()) {
      const groups = matcher.groupCount();
      if (groups === 0) last = matcher.group(0);
      else
        for (let group = 1; group <= groups; group += 1) {
          const text = matcher.group(group);
          if (text !== null) last = text;
        }
      if (matcher.end() === matcher.start()) break;
    }
    if (last === null) continue;
    const number = /\d+(?:\.\d+)?/.exec(last);
    if (number !== null) return Number(number[0]);
  }
  return null;
}

/** Records the coverage `pattern` finds in the stored log of job `jobId` (nothing when none). */
export async function recordCoverage(db: Db, jobId: number, pattern: string): Promise<void> {
  const trace = await db
    .selectFrom('jobTraces')
    .select('content')
    .where('jobId', '=', jobId)
    .executeTakeFirst();
  const coverage = extractCoverage(pattern, trace?.content ?? '');
  if (coverage === null) return;
  await db.deleteFrom('jobCoverage').where('jobId', '=', jobId).execute();
  await db.insertInto('jobCoverage').values({ jobId, coverage }).execute();
}

/** A job's recorded coverage, or `null`. */
export async function jobCoverage(db: Db, jobId: number): Promise<number | null> {
  const row = await db
    .selectFrom('jobCoverage')
    .select('coverage')
    .where('jobId', '=', jobId)
    .executeTakeFirst();
  return row === undefined ? null : Number(row.coverage);
}

/**
 * A pipeline's coverage as GitLab answers it: the average over its latest jobs (retried ones left
 * out) that have a coverage, with two decimals; `null` when none has one.
 */
export async function pipelineCoverage(db: Db, pipelineId: number): Promise<string | null> {
  const rows = await db
    .selectFrom('jobCoverage')
    .innerJoin('jobs', 'jobs.id', 'jobCoverage.jobId')
    .select('jobCoverage.coverage')
    .where('jobs.pipelineId', '=', pipelineId)
    .where('jobs.retried', '=', 0)
    .execute();
  if (rows.length === 0) return null;
  const sum = rows.reduce((total, row) => total + Number(row.coverage), 0);
  return (sum / rows.length).toFixed(2);
}
