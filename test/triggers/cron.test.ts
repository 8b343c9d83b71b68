import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TesseraError } from '../../src/errors.js';
import { isTimeZone, nextCronTime, parseCron } from '../../src/triggers/cron.js';

const at = (iso: string) => Date.parse(iso);
const next = (cron: string, zone: string, after: string) =>
  new Date(nextCronTime(parseCron(cron), zone, at(after))).toISOString();

describe('cron', () => {
  it('finds the next minute for steps, ranges, lists and names in UTC', () => {
    assert.equal(next('*/15 * * * *', 'UTC', '2026-01-01T10:07:30Z'), '2026-01-01T10:15:00.000Z');
    assert.equal(next('*/15 * * * *', 'UTC', '2026-01-01T10:15:00Z'), '2026-01-01T10:30:00.000Z');
    assert.equal(next('0 3 * * 1-5', 'UTC', '2026-01-02T04:00:00Z'), '2026-01-05T03:00:00.000Z'); // Fri → Mon
    assert.equal(next('0 0 1 1 *', 'UTC', '2026-06-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
    assert.equal(next('30 8 * jan,jul sun', 'UTC', '2026-01-01T00:00:00Z'), '2026-01-04T08:30:00.000Z');
    assert.equal(next('0 12 * * 7', 'UTC', '2026-01-01T00:00:00Z'), '2026-01-04T12:00:00.000Z');
    assert.equal(next('@daily', 'UTC', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z');
    assert.equal(next('0 0 29 2 *', 'UTC', '2026-01-01T00:00:00Z'), '2028-02-29T00:00:00.000Z');
    // Day of month and day of week both restricted: either one matches (the 13th, or a Friday).
    assert.equal(next('0 0 13 * 5', 'UTC', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z');
    assert.equal(next('5-10/5 1 * * *', 'UTC', '2026-01-01T01:06:00Z'), '2026-01-01T01:10:00.000Z');
  });

  it('reads the wall clock of the time zone, across daylight-saving changes', () => {
    assert.equal(next('0 9 * * *', 'Europe/Berlin', '2026-01-10T12:00:00Z'), '2026-01-11T08:00:00.000Z');
    assert.equal(next('0 9 * * *', 'Europe/Berlin', '2026-07-10T12:00:00Z'), '2026-07-11T07:00:00.000Z');
    assert.equal(next('0 9 * * *', 'America/New_York', '2026-03-07T20:00:00Z'), '2026-03-08T13:00:00.000Z');
    // 02:30 does not exist in Berlin on 2026-03-29: the next one is the day after.
    assert.equal(next('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z'), '2026-03-30T00:30:00.000Z');
    // Midnight after a 23-hour day is not skipped.
    assert.equal(next('15 0 * * *', 'Europe/Berlin', '2026-03-29T00:30:00Z'), '2026-03-29T22:15:00.000Z');
    // Midnight after a 25-hour day.
    assert.equal(next('0 0 * * *', 'Europe/Berlin', '2026-10-25T10:00:00Z'), '2026-10-25T23:00:00.000Z');
    // 02:30 comes twice in Berlin on 2026-10-25 (00:30Z and 01:30Z): the schedule fires at the first only.
    assert.equal(next('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z'), '2026-10-25T00:30:00.000Z');
    assert.equal(next('30 2 * * *', 'Europe/Berlin', '2026-10-25T00:30:00Z'), '2026-10-26T01:30:00.000Z');
    // Every wall-clock time once: the repeated 02:00-02:59 is not run a second time.
    assert.equal(next('*/30 * * * *', 'Europe/Berlin', '2026-10-25T00:45:00Z'), '2026-10-25T02:00:00.000Z');
    assert.equal(next('0 1 * * *', 'Asia/Kolkata', '2026-01-01T00:00:00Z'), '2026-01-01T19:30:00.000Z');
  });

  it('refuses malformed expressions and zones with ERR_SCHEDULE_CRON_INVALID', () => {
    for (const bad of [
      '',
      '* * * *',
      '* * * * * *',
      '60 * * * *',
      '* 24 * * *',
      '0 0 0 * *',
      '5-1 * * * *',
      '*/0 * * * *',
      'a * * * *',
      '0 0 * foo *',
    ]) {
      assert.throws(
        () => parseCron(bad),
        (error: unknown) => error instanceof TesseraError && error.code === 'ERR_SCHEDULE_CRON_INVALID',
        bad,
      );
    }
    assert.throws(() => nextCronTime(parseCron('0 0 31 2 *'), 'UTC', 0), /never fires/);
    assert.equal(isTimeZone('Europe/Berlin'), true);
    assert.equal(isTimeZone('UTC'), true);
    assert.equal(isTimeZone('Mars/Olympus'), false);
  });
});
