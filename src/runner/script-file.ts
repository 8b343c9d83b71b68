import { writeFile } from 'node:fs/promises';

/** Quotes `text` for bash as one word, inside single quotes. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * How a command is announced in the log, as GitLab's runner does: `$ command`; a multi-line
 * command shows its first line and `# collapsed multi-line command`.
 */
export function commandEcho(command: string): string {
  const lines = command.trim().split('\n');
  if (lines.length <= 1) return `$ ${command.trim()}`;
  return `$ ${lines[0]} # collapsed multi-line command`;
}

/**
 * The bash program for a list of commands: `set -eo pipefail` (the first failing command, also
 * inside a pipeline, ends the step with its exit code), stderr merged into stdout so that the log
 * keeps the order in which lines were written, and each command announced as `$ command` before
 * it runs. Commands run in one shell, so `cd` and `export` carry over to later commands, as in GitLab.
 * `prelude` is the runner's own bash, run first and never echoed (the checkout).
 */
export function renderScript(commands: readonly string[], prelude?: string): string {
  const lines = ['#!/usr/bin/env bash', ...(prelude ? [prelude] : []), 'exec 2>&1', 'set -eo pipefail', ''];
  for (const command of commands) {
    if (command.trim() === '') continue;
    lines.push(`printf '%s\\n' ${shellQuote(commandEcho(command))}`);
    lines.push(command);
  }
  lines.push('');
  return lines.join('\n');
}

/** Writes {@link renderScript} of `commands` to `path` (mode 0700) and returns the path. */
export async function writeScriptFile(
  path: string,
  commands: readonly string[],
  prelude?: string,
): Promise<string> {
  await writeFile(path, renderScript(commands, prelude), { mode: 0o700 });
  return path;
}
