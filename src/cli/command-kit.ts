// Shared plumbing for CLI commands: the client options every command takes (before or after the
// command words), and one wrapper that connects, runs, and prints either a table or JSON.
import { InvalidArgumentError, type Command } from 'commander';
import { isTandemError } from '../lib/errors.js';
import { parseSize } from '../lib/size.js';
import { ApiClient, resolveConnection } from './client.js';
import { printJson } from './output.js';

export interface ClientOptions {
  data?: string;
  api?: string;
  user?: string;
  json?: boolean;
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'talk to the daemon of this data dir over its unix socket (root)')
    .option('--api <url>', 'talk to the daemon at this API URL (password from TANDEM_PASSWORD)')
    .option('--user <name>', 'API user name (default admin)')
    .option('--json', 'print JSON instead of a table');
}

/** Registers a leaf command's action: the handler gets a connected client and the merged options and
 * returns a value; with --json that value is printed as JSON, else `show` prints it for people. */
export function clientAction<O extends object, R>(
  command: Command,
  handler: (client: ApiClient, options: O & ClientOptions, args: string[]) => Promise<R>,
  show: (result: R, options: O & ClientOptions) => void,
): Command {
  addClientOptions(command);
  return command.action(async (...received: unknown[]) => {
    const self = received[received.length - 1] as Command;
    const options = self.optsWithGlobals<O & ClientOptions>();
    const args = self.args;
    const client = new ApiClient(resolveConnection(options));
    const result = await handler(client, options, args);
    if (options.json === true) printJson(result ?? { ok: true });
    else show(result, options);
  });
}

/** commander argument parsers that turn bad input into clean usage errors. */
export function sizeArg(text: string): number {
  try {
    return parseSize(text);
  } catch (error) {
    throw new InvalidArgumentError(isTandemError(error) ? error.message : String(error));
  }
}

export function onOffArg(text: string): boolean {
  if (['on', 'yes', 'true', '1'].includes(text)) return true;
  if (['off', 'no', 'false', '0'].includes(text)) return false;
  throw new InvalidArgumentError('use on or off');
}

export function lunNumberArg(text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) > 255)
    throw new InvalidArgumentError('a LUN is a number from 0 to 255');
  return Number(text);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const enc = encodeURIComponent;
