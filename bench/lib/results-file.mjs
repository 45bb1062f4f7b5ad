// Results files in docs/results/: the bench rewrites the top and keeps what people wrote below the marker.
import { readFile } from 'node:fs/promises';

export const NOTES_MARKER =
  '<!-- notes: everything below this line is kept when the bench rewrites this file -->';

/** The hand-written notes below the marker of an existing results file ('' on a first run). */
export async function keptNotes(path) {
  try {
    const previous = await readFile(path, 'utf8');
    const at = previous.indexOf(NOTES_MARKER);
    return at >= 0 ? previous.slice(at + NOTES_MARKER.length).replace(/^\n+/, '') : '';
  } catch {
    return ''; // first run
  }
}
