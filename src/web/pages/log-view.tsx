import type { ComponentChildren } from 'preact';
import type { LogLine, LogSpan } from '../log-lines.js';

function Spans({ spans }: { spans: LogSpan[] }) {
  return (
    <>{spans.map((span) => (span.classes ? <span class={span.classes}>{span.text}</span> : span.text))}</>
  );
}

interface SectionNode {
  start: Extract<LogLine, { kind: 'section_start' }>;
  end: Extract<LogLine, { kind: 'section_end' }> | undefined;
  children: Array<LogLine | SectionNode>;
}

function isSection(node: LogLine | SectionNode): node is SectionNode {
  return 'children' in node;
}

/** Nests lines into sections: a `section_end` closes the innermost open section of its name. */
function nest(lines: LogLine[]): Array<LogLine | SectionNode> {
  const root: Array<LogLine | SectionNode> = [];
  const stack: SectionNode[] = [];
  const current = () => stack.at(-1)?.children ?? root;
  for (const line of lines) {
    if (line.kind === 'section_start') {
      const node: SectionNode = { start: line, end: undefined, children: [] };
      current().push(node);
      stack.push(node);
    } else if (line.kind === 'section_end') {
      const at = stack.findLastIndex((node) => node.start.name === line.name);
      if (at === -1) continue;
      stack[at]!.end = line;
      stack.length = at;
    } else {
      current().push(line);
    }
  }
  return root;
}

/**
 * The time a line was written, as GitLab shows it: `HH:MM:SS` in UTC (the page says so once), the
 * whole RFC 3339 time in `datetime` and as the tooltip.
 */
function LineTime({ at }: { at: string | undefined }) {
  if (at === undefined) return null;
  return (
    <time class="log-time" datetime={at} title={at}>
      {at.slice(11, 19)}
    </time>
  );
}

function sectionDuration(start: number, end: number): string {
  const seconds = Math.max(0, end - start);
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

function Nodes({ nodes }: { nodes: Array<LogLine | SectionNode> }): ComponentChildren {
  return nodes.map((node) => {
    if (isSection(node)) {
      return (
        <details
          class="log-section"
          data-section={node.start.name}
          data-start={String(node.start.time)}
          open={!node.start.collapsed}
          {...(node.end ? {} : { 'data-unclosed': 'true' })}
        >
          <summary class={node.start.at ? 'log-line timed' : 'log-line'}>
            <LineTime at={node.start.at} />
            <span class="section-marker" aria-hidden="true" />
            <span class="section-title">
              <Spans spans={node.start.spans} />
            </span>
            <span class="section-duration">
              {node.end ? sectionDuration(node.start.time, node.end.time) : ''}
            </span>
          </summary>
          <Nodes nodes={node.children} />
        </details>
      );
    }
    if (node.kind !== 'line') return null;
    return (
      <div class={node.at ? 'log-line timed' : 'log-line'}>
        <LineTime at={node.at} />
        <Spans spans={node.spans} />
      </div>
    );
  });
}

/**
 * A job log as GitLab renders it: ANSI styles as classes, sections as `<details>` (folded when
 * the marker says `collapsed=true`), each line's time (from the runner's FF_TIMESTAMPS prefix) in
 * a column before it, with "Timestamps in UTC." above and a button that hides or shows them. While
 * the job runs, the page's script appends what the stream at `streamUrl` sends from `offset` on,
 * and follows the tail.
 */
export function LogView({
  lines,
  streamUrl,
  offset,
  truncated,
  rawUrl,
}: {
  lines: LogLine[];
  streamUrl: string | null;
  offset: number;
  truncated: boolean;
  rawUrl: string;
}) {
  const timed = lines.some((line) => line.kind !== 'section_end' && line.at !== undefined);
  return (
    <section aria-labelledby="log-heading">
      <h2 id="log-heading">Log</h2>
      {/* Hidden until there are times to show (the script shows it when a running job's first arrives). */}
      <p class="log-bar" id="log-bar" hidden={!timed}>
        <span>Timestamps in UTC.</span>{' '}
        <button type="button" id="log-time-toggle" aria-controls="job-log" aria-pressed="false">
          Hide timestamps
        </button>
      </p>
      {truncated && (
        <p class="log-truncated">
          Showing the last part of the log. <a href={rawUrl}>Complete raw log</a>
        </p>
      )}
      <div
        class="job-log"
        id="job-log"
        tabindex={0}
        role="log"
        {...(streamUrl ? { 'data-stream-url': streamUrl, 'data-offset': String(offset) } : {})}
      >
        <Nodes nodes={nest(lines)} />
      </div>
    </section>
  );
}
