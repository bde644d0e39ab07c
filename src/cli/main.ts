#!/usr/bin/env node
/** Owns the `hashgate` command: it builds the program from the command modules and runs it. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerCheckCommand } from './check-command';
import { registerDoctorCommand } from './doctor-command';
import { registerHashCommand } from './hash-command';
import { registerIncidentCommands } from './incident-commands';
import { registerListCommands } from './list-commands';

/** Builds the `hashgate` program (exported for tests). */
export function buildProgram(io = { stdout: process.stdout, stderr: process.stderr }): Command {
  const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
    version: string;
  };
  const program = new Command('hashgate')
    .description('hash uploads and match them against signed lists of known illegal material')
    .version(version)
    .showHelpAfterError()
    .exitOverride();
  registerHashCommand(program, io);
  registerListCommands(program);
  registerIncidentCommands(program);
  registerCheckCommand(program);
  registerDoctorCommand(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; commander's own usage errors exit 2; a command's documented
      // failure code (raised through cmd.error) is kept
      process.exitCode =
        err.exitCode === 0
          ? 0
          : err.code.startsWith('commander.') && err.code !== 'commander.error'
            ? 2
            : err.exitCode;
      return;
    }
    process.stderr.write(`hashgate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
