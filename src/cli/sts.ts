import type { Command } from 'commander';
import { addIssueOptions } from './creds.js';
import type { Run } from './runtime.js';

/** `credops sts ROLE --ttl 15m`: `vault read aws/sts/ROLE ttl=15m`. */
export function registerSts(program: Command, run: Run): void {
  addIssueOptions(program.command('sts').description('issue STS credentials for a role (vault read aws/sts/ROLE)'), 'sts', run).option(
    '--ttl <duration>',
    "credential TTL, e.g. 15m (default: the role's default_sts_ttl, else 1h; capped at max_sts_ttl)",
  );
}
