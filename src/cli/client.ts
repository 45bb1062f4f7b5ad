// The CLI's way to the daemon: HTTP over the data dir's unix socket (`--data`, trusted, root only) or
// over TCP (`--api URL`, HTTP Basic with TANDEM_PASSWORD). Errors come back as CliError with the
// daemon's own code and message.
import { existsSync } from 'node:fs';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { CLIENT_HEADER } from '../api/cross-site-guard.js';
import { dataDirPaths } from '../daemon/data-dir.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Connection {
  readonly describe: string;
  readonly socketPath?: string;
  readonly baseUrl?: URL;
  readonly authorization?: string;
}

export interface ConnectionOptions {
  readonly data?: string;
  readonly api?: string;
  readonly user?: string;
}

export const DEFAULT_DATA_DIR = './var';
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** Picks the daemon: --api / TANDEM_API, else --data / TANDEM_DATA, else ./var's socket, else the
 * default API address. */
export function resolveConnection(
  options: ConnectionOptions,
  env: NodeJS.ProcessEnv = process.env,
): Connection {
  const api = options.api ?? (options.data === undefined ? env.TANDEM_API : undefined);
  const data = options.data ?? (api === undefined ? env.TANDEM_DATA : undefined);
  if (api === undefined) {
    const socketPath = dataDirPaths(data ?? DEFAULT_DATA_DIR).socket;
    if (data !== undefined || existsSync(socketPath)) return { describe: socketPath, socketPath };
  }
  const text = api ?? DEFAULT_API_URL;
  let baseUrl: URL;
  try {
    baseUrl = new URL(text.includes('://') ? text : `http://${text}`);
  } catch {
    throw new CliError(`"${text}" is not an API URL (e.g. http://127.0.0.1:8080)`, 'bad-api-url', 2);
  }
  if (baseUrl.protocol !== 'http:')
    throw new CliError(`unsupported API URL scheme ${baseUrl.protocol}`, 'bad-api-url', 2);
  const password = env.TANDEM_PASSWORD;
  const user = options.user ?? env.TANDEM_USER ?? 'admin';
  return {
    describe: baseUrl.origin,
    baseUrl,
    ...(password === undefined
      ? {}
      : { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }),
  };
}

export class ApiClient {
  constructor(private readonly connection: Connection) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    // The marker header: the daemon refuses state changes that a foreign web page could have sent.
    const headers: Record<string, string> = { accept: 'application/json', [CLIENT_HEADER]: 'cli' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (this.connection.authorization) headers.authorization = this.connection.authorization;
    const { socketPath, baseUrl } = this.connection;
    const target: RequestOptions = socketPath
      ? { socketPath, path }
      : { host: baseUrl?.hostname.replace(/^\[|\]$/g, ''), port: baseUrl?.port || 80, path };
    return new Promise<T>((resolve, reject) => {
      const req = httpRequest({ ...target, method, headers, timeout: 120_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : null;
          } catch {
            parsed = text;
          }
          if (status >= 200 && status < 300) {
            resolve(parsed as T);
            return;
          }
          reject(this.errorFrom(status, parsed));
        });
      });
      req.on('timeout', () => req.destroy(new Error('the daemon did not answer in time')));
      req.on('error', (error: NodeJS.ErrnoException) => reject(this.connectError(error)));
      req.end(payload);
    });
  }

  private errorFrom(status: number, body: unknown): CliError {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    if (status === 401 && this.connection.authorization === undefined) {
      return new CliError(
        `${this.connection.describe} needs credentials: set TANDEM_PASSWORD`,
        'unauthorized',
      );
    }
    return new CliError(
      error?.message ?? `the daemon answered HTTP ${status}`,
      error?.code ?? `http-${status}`,
    );
  }

  private connectError(error: NodeJS.ErrnoException): CliError {
    const where = this.connection.describe;
    switch (error.code) {
      case 'ENOENT':
      case 'ECONNREFUSED':
        return new CliError(`no Tandem daemon at ${where}; start one with: bin/tandem serve`, 'no-daemon');
      case 'EACCES':
        return new CliError(
          `no permission to use ${where} (the local socket is for root only)`,
          'no-permission',
        );
      default:
        return new CliError(`cannot reach the daemon at ${where}: ${error.message}`, 'unreachable');
    }
  }
}
