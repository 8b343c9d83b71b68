import { TesseraError } from '../errors.js';

/** A parsed 5-field cron expression: the allowed values of each field. */
export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday (7 is read as 0). */
  readonly daysOfWeek: ReadonlySet<number>;
  /** Whether day of month and day of week were both restricted: then either may match (as cron). */
  readonly eitherDay: boolean;
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS = [
  { name: 'minute', min: 0, max: 59, names: [] as string[], offset: 0 },
  { name: 'hour', min: 0, max: 23, names: [] as string[], offset: 0 },
  { name: 'day of month', min: 1, max: 31, names: [] as string[], offset: 0 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, offset: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAY_NAMES, offset: 0 },
] as const;

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

function invalid(message: string): TesseraError {
  return new TesseraError('ERR_SCHEDULE_CRON_INVALID', message, { details: { field: 'cron' } });
}

function parseField(text: string, field: (typeof FIELDS)[number]): Set<number> {
  const value = (token: string): number => {
    const named = field.names.indexOf(token.toLowerCase());
    if (named >= 0) return named + field.offset;
    if (!/^\d{1,2}$/.test(token)) throw invalid(`cron ${field.name} "${text}": "${token}" is not a number`);
    const number = Number(token);
    if (number < field.min || number > field.max) {
      throw invalid(`cron ${field.name} "${text}": ${number} is outside ${field.min}-${field.max}`);
    }
    return number;
  };
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const match = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(item);
    if (!match) throw invalid(`cron ${field.name} "${text}" is not a number, range, list or */step`);
    const [, range = '', stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw invalid(`cron ${field.name} "${text}": a step must be at least 1`);
    let low: number;
    let high: number;
    if (range === '*') {
      low = field.min;
      high = field.name === 'day of week' ? 6 : field.max;
    } else if (range.includes('-')) {
      const [from = '', to = '', ...rest] = range.split('-');
      if (rest.length > 0) throw invalid(`cron ${field.name} "${text}" has a malformed range`);
      low = value(from);
      high = value(to);
      if (low > high) throw invalid(`cron ${field.name} "${text}": a range must go upwards`);
    } else {
      low = value(range);
      high = stepText === undefined ? low : field.max;
    }
    for (let v = low; v <= high; v += step) out.add(field.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/**
 * Parses a 5-field cron expression (minute, hour, day of month, month, day of week) as GitLab's
 * schedules take it: numbers, `*`, ranges `a-b`, lists `a,b`, steps `*\/n` and `a-b/n`, month and
 * day names (`jan`, `mon`), 7 for Sunday, and the macros `@hourly`, `@daily`, `@weekly`,
 * `@monthly`, `@yearly`.
 *
 * @throws TesseraError `ERR_SCHEDULE_CRON_INVALID` naming the field to fix.
 */
export function parseCron(expression: string): CronSchedule {
  const trimmed = expression.trim();
  const text = MACROS[trimmed.toLowerCase()] ?? trimmed;
  const parts = text.split(/\s+/);
  if (parts.length !== 5 || text.length > 200) {
    throw invalid(
      `cron "${expression.slice(0, 100)}" must have 5 fields: minute hour day-of-month month day-of-week`,
    );
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = parts.map((part, index) =>
    parseField(part, FIELDS[index] as (typeof FIELDS)[number]),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  return {
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    eitherDay: !parts[2]?.startsWith('*') && !parts[4]?.startsWith('*'),
  };
}

/** Whether `timeZone` is an IANA time zone this Node knows (`UTC`, `Europe/Berlin`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  weekday: number;
  hour: number;
  minute: number;
}

function wallClock(time: number, timeZone: string): WallClock {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(time)) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: DAY_NAMES.indexOf((parts.weekday ?? '').slice(0, 3).toLowerCase()),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
  };
}

/** A wall-clock reading as one comparable number (`YYYYMMDDhhmm`). */
function wallKey(clock: WallClock): number {
  return (((clock.year * 100 + clock.month) * 100 + clock.day) * 100 + clock.hour) * 100 + clock.minute;
}

const MINUTE = 60_000;
/** How far ahead to look before calling an expression one that never fires (`0 0 31 2 *`). */
const HORIZON = 5 * 366 * 24 * 60 * MINUTE;

/**
 * The first minute strictly after `after` (Unix ms) at which `schedule` fires in `timeZone`, read
 * on that zone's wall clock: `0 9 * * *` in `Europe/Berlin` is 09:00 Berlin time in winter and
 * summer alike. A wall-clock time that a daylight-saving change skips does not happen that day,
 * and one that it repeats happens once (the first time).
 *
 * @throws TesseraError `ERR_SCHEDULE_CRON_INVALID` when it never fires (`0 0 31 2 *`).
 */
export function nextCronTime(schedule: CronSchedule, timeZone: string, after: number): number {
  let time = Math.floor(after / MINUTE) * MINUTE + MINUTE;
  const limit = time + HORIZON;
  // When the clocks go back, an hour of wall-clock times comes twice: fire at the first only.
  const afterKey = wallKey(wallClock(after, timeZone));
  while (time < limit) {
    const clock = wallClock(time, timeZone);
    const dayOfMonth = schedule.daysOfMonth.has(clock.day);
    const dayOfWeek = schedule.daysOfWeek.has(clock.weekday);
    const dayMatches = schedule.eitherDay ? dayOfMonth || dayOfWeek : dayOfMonth && dayOfWeek;
    if (!schedule.months.has(clock.month) || !dayMatches) {
      time = nextLocalMidnight(time, clock, timeZone);
    } else if (!schedule.hours.has(clock.hour)) {
      time += (60 - clock.minute) * MINUTE;
    } else if (!schedule.minutes.has(clock.minute) || wallKey(clock) <= afterKey) {
      time += MINUTE;
    } else {
      return time;
    }
  }
  throw invalid('cron never fires (no such date within five years)');
}

/** The first minute of the next local day, allowing for a day of 23 or 25 hours. */
function nextLocalMidnight(time: number, clock: WallClock, timeZone: string): number {
  let next = time + (24 * 60 - (clock.hour * 60 + clock.minute)) * MINUTE;
  const landed = wallClock(next, timeZone);
  if (landed.hour >= 12) {
    // A 25-hour day: still the evening before.
    next += (24 * 60 - (landed.hour * 60 + landed.minute)) * MINUTE;
  } else if (landed.hour !== 0 || landed.minute !== 0) {
    // A 23-hour day: past midnight already; step back unless midnight itself was skipped.
    const back = next - (landed.hour * 60 + landed.minute) * MINUTE;
    if (wallClock(back, timeZone).day === landed.day) next = back;
  }
  return next;
}
