const UNIT_SECONDS: ReadonlyMap<string, number> = new Map([
  ...['s', 'sec', 'secs', 'second', 'seconds'].map((unit) => [unit, 1] as const),
  ...['m', 'min', 'mins', 'minute', 'minutes'].map((unit) => [unit, 60] as const),
  ...['h', 'hr', 'hrs', 'hour', 'hours'].map((unit) => [unit, 3600] as const),
  ...['d', 'day', 'days'].map((unit) => [unit, 86_400] as const),
  ...['w', 'wk', 'wks', 'week', 'weeks'].map((unit) => [unit, 604_800] as const),
  ...['mo', 'mos', 'month', 'months'].map((unit) => [unit, 2_592_000] as const),
  // Only `artifacts:expire_in` reaches years (`timeout` is capped at a month).
  ...['y', 'yr', 'yrs', 'year', 'years'].map((unit) => [unit, 31_536_000] as const),
]);

/**
 * Reads a human duration the way GitLab's `timeout` does (ChronicDuration): a number of seconds
 * (`3600`), amounts with units (`1h 30m`, `3 hours and 30 minutes`, `90 minutes`, `1.5h`, `2 days`),
 * or a clock (`1:30:00`, `90:00`). Answers whole seconds (rounded down), or `null` when the text
 * is not a duration. A bare number without a unit is seconds.
 */
export function parseDuration(input: string | number): number | null {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.floor(input) : null;
  const text = input.trim().toLowerCase();
  if (text === '' || text.length > 100) return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.floor(Number(text));
  const clock = /^(\d+):(\d{1,2})(?::(\d{1,2}))?$/.exec(text);
  if (clock !== null) {
    const [a, b, c] = [Number(clock[1]), Number(clock[2]), clock[3] === undefined ? null : Number(clock[3])];
    return c === null ? a * 60 + b : a * 3600 + b * 60 + c;
  }
  const cleaned = text.replaceAll(',', ' ').replaceAll(/\band\b/g, ' ');
  const part = /(\d+(?:\.\d+)?)\s*([a-z]+)/y;
  let total = 0;
  let seen = false;
  let index = 0;
  while (index < cleaned.length) {
    if (cleaned[index] === ' ') {
      index += 1;
      continue;
    }
    part.lastIndex = index;
    const match = part.exec(cleaned);
    if (match === null) return null;
    const unit = UNIT_SECONDS.get(match[2]!);
    if (unit === undefined) return null;
    total += Number(match[1]) * unit;
    seen = true;
    index = part.lastIndex;
  }
  return seen ? Math.floor(total) : null;
}
