import { readdirSync, readFileSync } from 'node:fs';

/** Processes on this machine whose command line (arguments joined by spaces) contains `marker`. */
export function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}
