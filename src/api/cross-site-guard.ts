// Refuses requests that a foreign web page could make a browser send. A browser sends a form post or a
// `fetch` with a "simple" content type (none, text/plain, form encodings) to any site without asking
// first, and attaches the credentials it has cached for that site. So every request that can change
// state must carry either a JSON content type or the X-Tandem-Client header (both need the browser to
// ask the server first, which this API never grants), and a request whose Origin is another site is
// refused outright.
import type { IncomingHttpHeaders } from 'node:http';

/** The header that marks a request as sent by a program (the CLI, scripts, the GUI's own code). */
export const CLIENT_HEADER = 'x-tandem-client';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why the request is refused, or null when it may go on. Pure: headers in, verdict out. */
export function crossSiteRefusal(method: string, headers: IncomingHttpHeaders): string | null {
  if (SAFE_METHODS.has(method.toUpperCase())) return null;
  const origin = headers.origin;
  if (origin !== undefined && !isSameOrigin(origin, headers.host)) {
    return `requests from another site (Origin ${origin.slice(0, 200)}) are refused`;
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `requests from another site (Sec-Fetch-Site ${site.slice(0, 40)}) are refused`;
  }
  if (mediaType(headers['content-type']) === 'application/json') return null;
  if (headers[CLIENT_HEADER] !== undefined) return null;
  return 'a request that changes something needs content-type: application/json or the X-Tandem-Client header';
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

/** The origin of the daemon itself: http, and the host and port the request was sent to. */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and anything unparsable
  }
  // The daemon serves plain HTTP, so its own pages have an http: origin.
  if (url.protocol !== 'http:') return false;
  return url.host === normalizeHost(host, url.protocol);
}

/** The Host header as URL.host would write it (lower case, default port dropped). */
function normalizeHost(host: string, protocol: string): string | null {
  try {
    return new URL(`${protocol}//${host}`).host;
  } catch {
    return null;
  }
}
