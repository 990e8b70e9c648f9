import { Command, CommanderError, Option } from 'commander';
import { errorMessage, formatDiagnostic, UserError, ValidationError } from '../errors.js';
import { commands } from './commands.js';
import { VERSION } from './version.js';
import { processIo, type Io, type Run } from './runtime.js';

/** Builds the program for one run. Each command lives in its own file and is listed in commands.ts. */
export function buildProgram(run: Run): Command {
  const program = new Command('credops')
    .description('GitOps reconciler for dynamic AWS credentials (Vault AWS secrets engine roles as code)')
    .version(VERSION)
    .addOption(new Option('--state <url>', 'state URL (default sqlite:.credops/state.db)').env('CREDOPS_STATE'))
    .option('--lock-timeout <duration>', 'how long to wait for the state lock', '30s')
    .option('--debug', 'print stack traces of internal errors')
    // A usage error is one line, with the nearest match when there is one: never the whole help.
    .configureOutput({ writeOut: (s) => run.io.stdout(s), writeErr: (s) => run.io.stderr(s), outputError: (s, write) => write(oneLine(s)) })
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
    await program.parseAsync(vaultFlags(argv));
    return run.exitCode;
  } catch (err) {
    return reportError(err, io, argv.includes('--debug'));
  }
}

/**
 * Vault's CLI spells its flags with one dash (-format=json, -prefix,
 * -increment=1h); credops takes them as their two-dash selves, so that
 * commands copied from Vault's docs and scripts work. Vault's -prefix is a
 * boolean before a positional prefix: -prefix=true is -prefix, -prefix=false
 * nothing. Single letters (-h, -V) and what follows "--" are left alone.
 */
export function vaultFlags(argv: string[]): string[] {
  const out = argv.slice(0, 2);
  let passthrough = false;
  for (const arg of argv.slice(2)) {
    if (arg === '--') passthrough = true;
    if (passthrough || !/^-[a-z][a-z0-9-]+(=|$)/i.test(arg)) {
      out.push(arg);
      continue;
    }
    if (/^-prefix=(true|1)$/i.test(arg)) out.push('--prefix');
    else if (!/^-prefix=(false|0)$/i.test(arg)) out.push(`-${arg}`);
  }
  return out;
}

/** commander's "error: ...\n(Did you mean X?)\n" as one line. */
function oneLine(message: string): string {
  const text = message.trim().replace(/\s*\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)');
  return `${text.replace(/\n+/g, ' ')}; see credops --help\n`;
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
  const environmental = environmentError(err);
  if (environmental) {
    io.stderr(`Error: ${environmental}\n`);
    return 1;
  }
  const message = errorMessage(err);
  io.stderr(`Error: internal error: ${message}\n`);
  if (debug && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
  else io.stderr('This is a bug in credops; run again with --debug for the stack trace.\n');
  return 1;
}

/** What the operating system says, in words: no credops bug, something the user can fix. */
const SYSTEM_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * A full disk, a read-only file system or a permission refused are the
 * machine's state, not a bug: say which path and what the system said. SQLite
 * reports a full disk as SQLITE_FULL, without a path: the state is the only
 * database credops writes.
 */
function environmentError(err: unknown): string | undefined {
  const e = err as { code?: string; path?: string; syscall?: string; message?: string } | undefined;
  if (!e || typeof e.code !== 'string') return undefined;
  if (e.code === 'SQLITE_FULL') return `cannot write the state: the database or disk is full (${e.message ?? ''}); free some space and run again`;
  const why = SYSTEM_ERRORS[e.code];
  if (!why) return undefined;
  return `${e.syscall ? `${e.syscall} ` : ''}${e.path ?? '(unknown path)'}: ${why} (${e.code})`;
}
