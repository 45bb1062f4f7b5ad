// HTTP requests exactly as written: the path goes on the wire unchanged (fetch would normalize `..`,
// case and encodings away), from a chosen local address, with every header under the test's control.
import { request } from 'node:http';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly ms: number;
}

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Source address, e.g. 127.0.0.7, so one test can look like several clients. */
  readonly localAddress?: string;
}

export function rawHttp(baseUrl: string, options: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path,
        headers: {
          ...(options.body === undefined
            ? {}
            : { 'content-length': String(Buffer.byteLength(options.body)) }),
          ...options.headers,
        },
        agent: false,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
          }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${options.method} ${options.path}: no answer`)));
    req.end(options.body);
  });
}

export const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The ways one path can be spelled so that a URL-prefix check and a router disagree about it:
 * percent-encoded letters, doubled and trailing slashes, other letter case, `.`/`..` segments
 * (plain and encoded), an encoded slash, a backslash, a query and a matrix parameter. */
export function spellingsOf(path: string): string[] {
  const segments = path.split('/').slice(1);
  const encodeChar = (c: string): string => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  const spellings = new Set<string>([path]);
  segments.forEach((segment, i) => {
    const letter = /[a-z]/i.exec(segment);
    if (!letter) return;
    const encoded = segment.replace(letter[0], encodeChar(letter[0]));
    const upper = encodeChar(letter[0]).toUpperCase();
    spellings.add(`/${segments.map((s, j) => (j === i ? encoded : s)).join('/')}`);
    spellings.add(`/${segments.map((s, j) => (j === i ? segment.replace(letter[0], upper) : s)).join('/')}`);
  });
  spellings.add(`/${segments.map((s) => s.replace(/[a-z]/gi, encodeChar)).join('/')}`);
  spellings.add(`/${path}`);
  spellings.add(path.replace('/api/', '/api//'));
  spellings.add(`${path}/`);
  spellings.add(`${path}//`);
  spellings.add(path.toUpperCase());
  spellings.add(path.replace(/\/([a-z])/g, (_, c: string) => `/${c.toUpperCase()}`));
  spellings.add(path.replace('/api/', '/api/./'));
  spellings.add(path.replace('/api/', '/api/zz/../'));
  spellings.add(`/zz/..${path}`);
  spellings.add(path.replace('/api/', '/api/%2e%2e/api/'));
  spellings.add(path.replace('/api/', '/api/zz/%2E%2E/'));
  spellings.add(path.replace('/api/', '/api%2f'));
  spellings.add(path.replace('/api/', '/api\\'));
  spellings.add(`${path}?x=1`);
  spellings.add(`${path};x=1`);
  spellings.add(`${path}%00`);
  return [...spellings];
}
