// The `tandem` command line. Every command but `serve` is a client of a running daemon's REST API.
// Output: tables for people, JSON with --json; errors on stderr with exit code 1 (2 for usage errors).
import { Command, CommanderError } from 'commander';
import { isTandemError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import { CliError } from './client.js';
import { addClientOptions } from './command-kit.js';
import { nasCommand } from './commands/nas.js';
import { networkCommand } from './commands/network.js';
import { demoCommand } from './commands/demo.js';
import { failoverCommand } from './commands/failover.js';
import { datarepCommand } from './commands/datarep.js';
import { nodeCommand } from './commands/node.js';
import { poolCommand } from './commands/pool.js';
import { replicationCommand } from './commands/replication.js';
import { serveCommand } from './commands/serve.js';
import { targetCommand } from './commands/target.js';
import { tasksCommand } from './commands/tasks.js';
import { volumeCommand } from './commands/volume.js';
import { printError } from './output.js';

function buildProgram(): Command {
  const program = new Command('tandem')
    .description('Tandem: a highly available storage server for a pair of Linux machines')
    .version(VERSION)
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)');
  addClientOptions(program);
  program.addCommand(serveCommand());
  program.addCommand(nodeCommand());
  program.addCommand(poolCommand());
  program.addCommand(volumeCommand());
  program.addCommand(targetCommand());
  program.addCommand(replicationCommand());
  program.addCommand(datarepCommand());
  program.addCommand(tasksCommand());
  program.addCommand(failoverCommand());
  program.addCommand(demoCommand());
  program.addCommand(nasCommand());
  program.addCommand(networkCommand());
  // Every command exits through our handler, so usage errors get exit code 2 and no stack trace.
  const exitOverride = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version output are not errors.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  if (error instanceof CliError) {
    printError(error.message);
    process.exit(error.exitCode);
  }
  if (isTandemError(error)) {
    printError(error.message);
    process.exit(error.kind === 'invalid' ? 2 : 1);
  }
  printError(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
