/**
 * About how many bytes `value` takes as JSON (UTF-8 text of strings and keys, a few bytes per
 * number, literal and separator), counting a shared object or string at every place it appears,
 * as serialising it would. The walk stops once the count passes `cap`, so measuring a spec that
 * extends, `!reference` or `default` multiplied to gigabytes costs no more than `cap` bytes of
 * reading. Objects that are not plain (compiled patterns) count as a few bytes.
 *
 * @example measureSpecBytes({ script: ["make"] }, 1024) // 21, against 19 bytes of JSON
 */
export function measureSpecBytes(value: unknown, cap: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total <= cap) {
    const item = stack.pop();
    if (typeof item === 'string') {
      // The length is a lower bound on the bytes; the exact count reads the string, so only when
      // the lower bound still fits.
      total += total + item.length > cap ? item.length : Buffer.byteLength(item, 'utf8') + 2;
    } else if (item === null || typeof item !== 'object') {
      total += 8;
    } else if (Array.isArray(item)) {
      total += 2 + item.length;
      for (const element of item) stack.push(element);
    } else {
      const prototype = Object.getPrototypeOf(item);
      if (prototype !== Object.prototype && prototype !== null) {
        total += 8;
        continue;
      }
      total += 2;
      for (const [key, member] of Object.entries(item)) {
        total += key.length + 4;
        stack.push(member);
      }
    }
  }
  return total;
}
