import { Option, type Command } from 'commander';
import { systemClock } from '../clock.js';
import { parseDuration } from '../duration.js';
import { formatCredential, OUTPUT_FORMATS, type OutputFormat } from './lease-format.js';
import { withLockedEngine } from './lease.js';
import type { Run } from './runtime.js';
import type { IssueRequest } from '../engine/credential-type.js';

interface IssueOptions {
  mount: string;
  format: OutputFormat;
  ttl?: string;
  roleArn?: string;
  roleSessionName?: string;
  mfaCode?: string;
}

/** `credops creds ROLE`: `vault read aws/creds/ROLE`. */
export function registerCreds(program: Command, run: Run): void {
  addIssueOptions(program.command('creds').description('issue credentials for a role (vault read aws/creds/ROLE)'), 'creds', run).option(
    '--ttl <duration>',
    "iam_user: lease TTL (up to the mount's lease_max); STS types: credential TTL",
  );
}

/** What creds and sts share: the role argument, the options, and the action. */
export function addIssueOptions(cmd: Command, path: 'creds' | 'sts', run: Run): Command {
  return cmd
    .argument('<role>')
    .option('--mount <mount>', 'secrets engine mount', 'aws')
    .option('--role-arn <arn>', 'assumed_role: which of the role_arns to assume')
    .option('--role-session-name <name>', 'assumed_role: the session name (default: from the username template)')
    .option('--mfa-code <code>', "the current code of the role's mfa_serial_number device")
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (role: string, opts: IssueOptions, command: Command) => {
      await issueAndPrint(run, command, {
        mount: opts.mount,
        role,
        path,
        ...(opts.ttl !== undefined ? { ttl: parseDuration(opts.ttl) } : {}),
        ...(opts.roleArn ? { roleArn: opts.roleArn } : {}),
        ...(opts.roleSessionName ? { roleSessionName: opts.roleSessionName } : {}),
        ...(opts.mfaCode ? { mfaCode: opts.mfaCode } : {}),
      }, opts.format);
    });
}

/** Issues under the state lock and prints what `vault read MOUNT/PATH/ROLE` prints: creds, sts, read and write share it. */
export async function issueAndPrint(run: Run, command: Command, request: IssueRequest, format: OutputFormat): Promise<void> {
  const credential = await withLockedEngine(command, run, request.path, (engine) => engine.issue(request));
  run.io.stdout(formatCredential(credential, systemClock.now(), format));
}
