import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFinished } from '../coordinator/advance-pipeline.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { jobLogBytes, jobLogLength, readJobLogFrom } from '../coordinator/web-session.js';
import { type LogicalLine, splitTimestampedLines } from '../job-log/timestamp-prefix.js';
import { type AnsiState, initialAnsiState, parseLogicalLines, parseLogLines } from './log-lines.js';
import type { JobLogExcerpt } from './pages/job.js';

/** The job page shows at most this many characters of a log at first (the tail); the rest is one link away. */
export const LOG_TAIL_CHARACTERS = 256 * 1024;

/** How often a live stream looks for new log text (the store is shared by every node, so it polls). */
const POLL_INTERVAL_MS = 250;

/** A live stream ends after this long; the browser's EventSource reconnects from its last offset. */
const STREAM_LIFETIME_MS = 5 * 60 * 1000;

/**
 * The lines the job page starts with: the whole log, or for a long one its last
 * {@link LOG_TAIL_CHARACTERS} from a line start (a 10 MB log is not sent whole), and the offset
 * (in characters, as the store counts) a live stream resumes from: the end of the last complete line.
 */
export async function jobLogExcerpt(coordinator: Coordinator, jobId: number): Promise<JobLogExcerpt> {
  const length = await jobLogLength(coordinator, jobId);
  const start = Math.max(0, length - LOG_TAIL_CHARACTERS);
  let { text } = await readJobLogFrom(coordinator, jobId, start);
  let offset = start;
  if (start > 0) {
    const newline = text.indexOf('\n');
    const skipped = newline === -1 ? text : text.slice(0, newline + 1);
    offset += [...skipped].length;
    text = text.slice(skipped.length);
  }
  // Only complete lines: a line still being written arrives whole through the stream.
  const lastNewline = text.lastIndexOf('\n');
  const complete = lastNewline === -1 ? '' : text.slice(0, lastNewline);
  const consumed = lastNewline === -1 ? '' : text.slice(0, lastNewline + 1);
  const finished = await isJobFinished(coordinator, jobId);
  const shown = finished ? text.replace(/\n$/, '') : complete;
  return {
    lines: parseLogLines(shown, initialAnsiState()),
    offset: offset + [...(finished ? text : consumed)].length,
    truncated: start > 0,
  };
}

async function isJobFinished(coordinator: Coordinator, jobId: number): Promise<boolean> {
  const job = await coordinator.repos.jobs.findById(jobId);
  return !job || isFinished(job.status);
}

/** How far before its start offset a stream looks for the line a `+` line may continue. */
const LOOK_BACK_CHARACTERS = 16 * 1024;

/** The complete line that ends at character `offset`, to join a `+` line to (styles start afresh). */
async function lineBefore(
  coordinator: Coordinator,
  jobId: number,
  offset: number,
): Promise<{ line: LogicalLine; stateBefore: AnsiState } | undefined> {
  const from = Math.max(0, offset - LOOK_BACK_CHARACTERS);
  const { text } = await readJobLogFrom(coordinator, jobId, from);
  const before = [...text].slice(0, offset - from).join('');
  if (!before.endsWith('\n')) return undefined;
  const lines = splitTimestampedLines(before.slice(0, -1));
  // From the middle of the log, the first line read may be the tail of a longer one.
  if (from > 0 && lines.length < 2) return undefined;
  const line = lines.at(-1);
  return line === undefined ? undefined : { line, stateBefore: initialAnsiState() };
}

/**
 * Streams a job's log from character `offset` as server-sent events: `lines` events carry parsed
 * lines of new text only (complete lines while the job runs) and the next offset, `status` the
 * job's status when it changes, `end` once the job finished and everything was sent.
 *
 * A runner with FF_TIMESTAMPS sends the rest of a line it cut (a progress update ending in a
 * carriage return, or 8 KiB without a newline) as a `+` line after the first part went out. When
 * new text starts with such a line, the event says `replace: true` and its first line is the whole
 * line again (the part sent before and the rest, parsed together so a carriage return rewrites as
 * in a terminal): the page puts it in place of its last line. Only a line this stream sent can be
 * joined so, and the line just before `offset` (the page's last, read again at the start); a line
 * longer than {@link LOOK_BACK_CHARACTERS} gets the rest appended instead (`continues: true`).
 */
export async function streamJobLog(
  coordinator: Coordinator,
  request: FastifyRequest,
  reply: FastifyReply,
  jobId: number,
  offset: number,
): Promise<void> {
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Proxies (nginx) must pass each event on at once.
    'x-accel-buffering': 'no',
  });
  const state = initialAnsiState();
  // The last line sent, unparsed, and the styles before it: a `+` line may still continue it.
  let open: { line: LogicalLine; stateBefore: AnsiState } | undefined;
  let position = offset;
  if (offset > 0) open = await lineBefore(coordinator, jobId, offset);
  let lastStatus = '';
  let lastBytes = -1;
  let closed = false;
  request.raw.on('close', () => {
    closed = true;
  });
  const started = Date.now();
  const send = (event: string, data: unknown) =>
    response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  try {
    while (!closed && !coordinator.stopping && Date.now() - started < STREAM_LIFETIME_MS) {
      const job = await coordinator.repos.jobs.findById(jobId);
      const finished = !job || isFinished(job.status);
      if (job && job.status !== lastStatus) {
        lastStatus = job.status;
        send('status', { status: job.status });
      }
      // Reading the text from an offset walks the whole log in SQL; do it only when bytes arrived.
      const bytes = await jobLogBytes(coordinator, jobId);
      if (bytes === lastBytes && !finished) {
        await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
        continue;
      }
      lastBytes = bytes;
      const { text } = await readJobLogFrom(coordinator, jobId, position);
      const lastNewline = text.lastIndexOf('\n');
      const chunk = finished ? text : lastNewline === -1 ? '' : text.slice(0, lastNewline + 1);
      if (chunk !== '') {
        position += [...chunk].length;
        const logical = splitTimestampedLines(chunk.replace(/\n$/, ''));
        const first = logical[0] as LogicalLine;
        let replace = false;
        let continues = false;
        if (first.continuesEarlier && open !== undefined) {
          logical[0] = { text: open.line.text + first.text, time: first.time, continuesEarlier: false };
          Object.assign(state, open.stateBefore);
          replace = true;
        } else if (first.continuesEarlier) continues = true;
        const lines = parseLogicalLines(logical.slice(0, -1), state);
        const stateBefore = { ...state };
        const last = logical.at(-1) as LogicalLine;
        lines.push(...parseLogicalLines([last], state));
        open = { line: last, stateBefore };
        send('lines', {
          offset: position,
          lines,
          ...(replace ? { replace: true } : {}),
          ...(continues ? { continues: true } : {}),
        });
      }
      if (finished) {
        send('end', { offset: position });
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  } finally {
    response.end();
  }
}
