// The runner's log pipeline with and without FF_TIMESTAMPS: one job's output (64 KiB writes of
// 80-character lines, two masked values) through JobLog, masked then prefixed, against masked only.
import { JobLog } from '../src/runner/job-log.js';
import { compare, report } from './measure.js';

const line = `${'compiling module-'.padEnd(70, 'x')} ok 12%\n`;
const write = Buffer.from(line.repeat(Math.floor((64 * 1024) / line.length)));
const masked = ['a-masked-value-1234', 'eyJhbGciOiJSUzI1NiJ9.not-a-real.jwt-value'];

function contender(timestamps: boolean) {
  let sent = 0;
  const log = new JobLog({ maskedValues: masked, output: (bytes) => (sent += bytes.length), timestamps });
  return () => {
    log.write('stdout', write);
    return sent;
  };
}

const samples = await compare(
  [
    { name: 'masked and prefixed (FF_TIMESTAMPS)', run: contender(true) },
    { name: 'masked only', run: contender(false) },
  ],
  { rounds: 15, durationMs: 150 },
);
report(`job log: 64 KiB writes of ${line.length}-byte lines`, samples, 'masked and prefixed (FF_TIMESTAMPS)');
