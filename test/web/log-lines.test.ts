import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialAnsiState, parseLogLines } from '../../src/web/log-lines.js';

const ESC = '\u001b';

describe('job log parsing (GitLab rendering)', () => {
  it('turns SGR codes into classes and carries the style across lines', () => {
    const state = initialAnsiState();
    const lines = parseLogLines(
      `${ESC}[1;31merror: ${ESC}[0mplain\n${ESC}[32mgreen\nstill green${ESC}[39m`,
      state,
    );
    assert.deepEqual(lines, [
      {
        kind: 'line',
        spans: [
          { text: 'error: ', classes: 'term-fg-red term-bold' },
          { text: 'plain', classes: '' },
        ],
      },
      { kind: 'line', spans: [{ text: 'green', classes: 'term-fg-green' }] },
      { kind: 'line', spans: [{ text: 'still green', classes: 'term-fg-green' }] },
    ]);
  });

  it('maps bright and 256 colours, drops 24-bit colours and other escapes', () => {
    const [line] = parseLogLines(
      `${ESC}[94ma${ESC}[38;5;208mb${ESC}[38;2;1;2;3mc${ESC}[0m${ESC}[2Kd${ESC}[48;5;1me`,
      initialAnsiState(),
    );
    assert.deepEqual(line, {
      kind: 'line',
      spans: [
        { text: 'a', classes: 'term-fg-l-blue' },
        { text: 'bc', classes: 'term-fg-xterm-208' },
        { text: 'd', classes: '' },
        { text: 'e', classes: 'term-bg-red' },
      ],
    });
  });

  it('keeps what was written after the last carriage return of a line', () => {
    const [line] = parseLogLines(`progress 10%\rprogress ${ESC}[32m100%`, initialAnsiState());
    assert.deepEqual(line, {
      kind: 'line',
      spans: [
        { text: 'progress ', classes: '' },
        { text: '100%', classes: 'term-fg-green' },
      ],
    });
  });

  it("reads GitLab's section markers, with [collapsed=true] and text after an end marker", () => {
    const lines = parseLogLines(
      [
        `${ESC}[0Ksection_start:1700000000:build_step[collapsed=true]\r${ESC}[0K${ESC}[36mBuilding`,
        'inside',
        `${ESC}[0Ksection_end:1700000042:build_step\r${ESC}[0Kafter`,
        'section_start:not-a-marker',
      ].join('\n'),
      initialAnsiState(),
    );
    assert.deepEqual(lines, [
      {
        kind: 'section_start',
        name: 'build_step',
        time: 1700000000,
        collapsed: true,
        spans: [{ text: 'Building', classes: 'term-fg-cyan' }],
      },
      { kind: 'line', spans: [{ text: 'inside', classes: 'term-fg-cyan' }] },
      { kind: 'section_end', name: 'build_step', time: 1700000042 },
      { kind: 'line', spans: [{ text: 'after', classes: 'term-fg-cyan' }] },
      { kind: 'line', spans: [{ text: 'section_start:not-a-marker', classes: 'term-fg-cyan' }] },
    ]);
  });

  it("takes off the runner's FF_TIMESTAMPS prefixes, keeps each line's time and joins `+` lines", () => {
    const t = (micros: string, rest: string) => `2026-12-06T05:27:57.${micros}Z ${rest}`;
    const text = [
      t('000001', `00O ${ESC}[32mRunning with tessera runner`),
      t('000002', `00O ${ESC}[0K${'section_start'}:1700000000:prepare[collapsed=true]\r${ESC}[0KPreparing`),
      t('000003', '01O 10%\r'),
      t('000004', '01O+100%'),
      t('000005', `00O ${ESC}[0K${'section_end'}:1700000003:prepare\r${ESC}[0K`),
      t('000006', '01E on stderr'),
      'a line from a runner without timestamps',
    ].join('\n');
    const lines = parseLogLines(text, initialAnsiState());
    assert.deepEqual(lines, [
      {
        kind: 'line',
        spans: [{ text: 'Running with tessera runner', classes: 'term-fg-green' }],
        at: '2026-12-06T05:27:57.000001Z',
      },
      {
        kind: 'section_start',
        name: 'prepare',
        time: 1700000000,
        collapsed: true,
        spans: [{ text: 'Preparing', classes: 'term-fg-green' }],
        at: '2026-12-06T05:27:57.000002Z',
      },
      // The carriage return rewrote the line; its time is its last part's, as GitLab shows it.
      {
        kind: 'line',
        spans: [{ text: '100%', classes: 'term-fg-green' }],
        at: '2026-12-06T05:27:57.000004Z',
      },
      { kind: 'section_end', name: 'prepare', time: 1700000003 },
      {
        kind: 'line',
        spans: [{ text: 'on stderr', classes: 'term-fg-green' }],
        at: '2026-12-06T05:27:57.000006Z',
      },
      {
        kind: 'line',
        spans: [{ text: 'a line from a runner without timestamps', classes: 'term-fg-green' }],
      },
    ]);
  });

  it('leaves text that only looks like a prefix alone', () => {
    const lines = parseLogLines('2026-12-06T05:27:57Z 01O no microseconds', initialAnsiState());
    assert.deepEqual(lines, [
      { kind: 'line', spans: [{ text: '2026-12-06T05:27:57Z 01O no microseconds', classes: '' }] },
    ]);
  });
});
