// Names of objects that people create (pools, volumes, shares) end up in file paths, rsync module
// names and URLs, so they are held to a small safe alphabet: no path separators, no `..`, no shell
// metacharacters, no leading dot or dash.
import { invalid } from './errors.js';

export const NAME_MAX_LENGTH = 64;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Throws a TandemError unless `name` is a safe object name; `what` names the object in the message. */
export function validateName(what: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalid('bad-name', `${what} name must not be empty`);
  }
  if (name.length > NAME_MAX_LENGTH) {
    throw invalid(
      'bad-name',
      `${what} name "${name.slice(0, 20)}..." is longer than ${NAME_MAX_LENGTH} characters`,
    );
  }
  if (name.includes('..')) {
    throw invalid('bad-name', `${what} name "${name}" must not contain ".."`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw invalid(
      'bad-name',
      `${what} name "${name}" may only use letters, digits, "_", "-" and "." and must start with a letter or digit`,
    );
  }
  return name;
}
