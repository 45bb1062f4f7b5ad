// The product version, read once from package.json next to the build.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const candidate of ['../../package.json', '../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (parsed.name === 'tandem' && typeof parsed.version === 'string') return parsed.version;
    } catch {
      // try the next place
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
