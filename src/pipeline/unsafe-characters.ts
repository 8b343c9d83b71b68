// C0 controls (NUL, CR, LF, ESC, …) and DEL; the bidirectional embeddings, overrides and isolates
// (U+202A–U+202E, U+2066–U+2069) and marks (U+200E, U+200F) that make a name print differently
// from what it is ("Trojan Source"), in the web UI, in logs and in claims.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const UNSAFE = /[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** What {@link unsafeCharacterIn} refuses, for messages. */
export const UNSAFE_NAME_CHARACTERS =
  'control characters (NUL, CR, LF, …) or bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F)';

/**
 * The first character of `text` that a name must not hold, as `U+XXXX`, or null when it has none.
 *
 * @example unsafeCharacterIn('deploy\u202Eprod') // 'U+202E'
 */
export function unsafeCharacterIn(text: string): string | null {
  const found = UNSAFE.exec(text);
  if (found === null) return null;
  return `U+${(found[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * `text` with every character {@link unsafeCharacterIn} refuses written as `\uXXXX`, so that a
 * message can name what it refuses without printing it.
 *
 * @example escapeUnsafeCharacters('two\r\nlines') // 'two\\u000D\\u000Alines'
 */
export function escapeUnsafeCharacters(text: string): string {
  return text.replace(
    new RegExp(UNSAFE.source, 'gu'),
    (character) => `\\u${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}
