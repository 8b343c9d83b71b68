import { formatDuration, jobStatusLabel } from './job-status-label.js';
import type { JobView } from './pipeline-view.js';
import type { RunOutput } from './run-output.js';

/**
 * The table printed at the end of a local run: one row per job (job, stage, status, duration),
 * in pipeline order, columns padded on the plain text so that colours never shift them.
 */
export function summaryTable(jobs: readonly JobView[], output: RunOutput): string {
  const rows = jobs.map((job) => {
    const label = jobStatusLabel(job);
    return {
      cells: [job.name, job.stage, label.text, formatDuration(job.duration)],
      colour: label.colour,
    };
  });
  const header = ['job', 'stage', 'status', 'duration'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row.cells[column] as string).length)),
  );
  const pad = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ');
  const lines = [output.paint('bold', pad(header).trimEnd())];
  for (const row of rows) {
    const [name, stage, status, duration] = row.cells as [string, string, string, string];
    const statusCell = output.paint(row.colour, status.padEnd(widths[2] as number));
    lines.push(
      `${name.padEnd(widths[0] as number)}  ${stage.padEnd(widths[1] as number)}  ${statusCell}  ${duration}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
