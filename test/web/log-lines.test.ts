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
});
