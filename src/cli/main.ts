import { Command, CommanderError, Option } from 'commander';
import { errorMessage, formatDiagnostic, UserError, ValidationError } from '../errors.js';
import { commands } from './commands.js';
import { processIo, type Io, type Run } from './runtime.js';

/** Builds the program for one run. Each command lives in its own file and is listed in commands.ts. */
export function buildProgram(run: Run): Command {
  const program = new Command('credops')
    .description('GitOps reconciler for dynamic AWS credentials (Vault AWS secrets engine roles as code)')
    .version('0.1.0')
    .addOption(new Option('--state <url>', 'state URL (default sqlite:.credops/state.db)').env('CREDOPS_STATE'))
    .option('--lock-timeout <duration>', 'how long to wait for the state lock', '30s')
    .option('--debug', 'print stack traces of internal errors')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => run.io.stdout(s), writeErr: (s) => run.io.stderr(s) })
    .exitOverride();
  for (const register of commands) register(program, run);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Runs the CLI and returns the exit code: 0 ok, 1 error, 2 plan has changes (--detailed-exitcode). */
export async function main(argv: string[], io: Io = processIo, signal: AbortSignal = new AbortController().signal): Promise<number> {
  const run: Run = { io, exitCode: 0, signal };
  const program = buildProgram(run);
  try {
    await program.parseAsync(argv);
    return run.exitCode;
  } catch (err) {
    return reportError(err, io, argv.includes('--debug'));
  }
}

function reportError(err: unknown, io: Io, debug: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    return err.exitCode === 0 ? 0 : 1;
  }
  if (err instanceof ValidationError) {
    for (const d of err.diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
    io.stderr(`Error: ${err.message}\n`);
    return 1;
  }
  if (err instanceof UserError) {
    io.stderr(`Error: ${err.message}\n`);
    return 1;
  }
  const message = errorMessage(err);
  io.stderr(`Error: internal error: ${message}\n`);
  if (debug && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
  else io.stderr('This is a bug in credops; run again with --debug for the stack trace.\n');
  return 1;
}
