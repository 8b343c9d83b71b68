/** The glyph and words for each job or pipeline status (the words are what screen readers say). */
const STATUS_GLYPHS: Record<string, string> = {
  success: '✓',
  failed: '✗',
  running: '◔',
  pending: '◌',
  created: '○',
  manual: '⏵',
  canceled: '⊘',
  skipped: '»',
};

/** A status icon with its name, coloured by status class (`status-success` …). */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`status status-${status}`} data-status={status}>
      <span aria-hidden="true">{STATUS_GLYPHS[status] ?? '?'}</span> {status}
    </span>
  );
}

/** `1h 02m 03s`-style duration of a job or pipeline, or '' when it has not both started and ended. */
export function formatDuration(startedAt: number | null, finishedAt: number | null, now: number): string {
  if (startedAt === null) return '';
  const seconds = Math.max(0, Math.round(((finishedAt ?? now) - startedAt) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m ${String(s).padStart(2, '0')}s`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** `3 minutes ago`-style age, with the exact time in a `<time>` element. */
export function Age({ at, now }: { at: number | null; now: number }) {
  if (at === null) return <span>never</span>;
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  const text =
    seconds < 60
      ? 'just now'
      : seconds < 3600
        ? `${Math.floor(seconds / 60)} min ago`
        : seconds < 86400
          ? `${Math.floor(seconds / 3600)} h ago`
          : `${Math.floor(seconds / 86400)} d ago`;
  const iso = new Date(at).toISOString();
  return (
    <time datetime={iso} title={iso}>
      {text}
    </time>
  );
}
