import { TesseraError } from '../errors.js';
import { UNSAFE_NAME_CHARACTERS, unsafeCharacterIn } from '../pipeline/unsafe-characters.js';

/**
 * Refuses a group or project name that holds a character of {@link UNSAFE_NAME_CHARACTERS}.
 *
 * @throws TesseraError `ERR_VALIDATION` naming `field` and the character.
 */
export function checkDisplayName(name: string, field: string): void {
  const character = unsafeCharacterIn(name);
  if (character === null) return;
  throw new TesseraError(
    'ERR_VALIDATION',
    `${field} must not contain ${UNSAFE_NAME_CHARACTERS}; it has ${character}`,
    { details: { field } },
  );
}
