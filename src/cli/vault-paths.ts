import { Option, type Command } from 'commander';
import { parseDuration } from '../duration.js';
import { UserError } from '../errors.js';
import type { IssueRequest } from '../engine/credential-type.js';
import { issueAndPrint } from './creds.js';
import { printStaticCreds } from './static-creds.js';
import { OUTPUT_FORMATS, type OutputFormat } from './lease-format.js';
import type { Run } from './runtime.js';

/** The fields `vault read|write MOUNT/(creds|sts)/ROLE` takes (path_user.go), as credops names them in an IssueRequest. */
const FIELDS = {
  ttl: (v: string) => ({ ttl: parseDuration(v) }),
  role_arn: (v: string) => ({ roleArn: v }),
  role_session_name: (v: string) => ({ roleSessionName: v }),
  mfa_code: (v: string) => ({ mfaCode: v }),
} satisfies Record<string, (value: string) => Partial<IssueRequest>>;

/**
 * `credops read MOUNT/creds/ROLE` and `credops read|write MOUNT/sts/ROLE
 * ttl=15m role_arn=ARN role_session_name=NAME`: Vault's spelling of `creds`
 * and `sts`, so that scripts written for `vault read` and `vault write` run
 * unchanged. Vault serves both operations on both paths; so does credops.
 */
export function registerVaultPaths(program: Command, run: Run): void {
  for (const verb of ['read', 'write'] as const) {
    program
      .command(verb)
      .description(
        `vault ${verb} MOUNT/creds/ROLE or MOUNT/sts/ROLE [key=value ...]: the same as credops creds / credops sts` +
          (verb === 'read' ? '; MOUNT/static-creds/NAME: credops static-creds' : ''),
      )
      .argument('<path>', `MOUNT/creds/ROLE or MOUNT/sts/ROLE${verb === 'read' ? ' or MOUNT/static-creds/NAME' : ''}, e.g. aws/sts/deploy`)
      .argument('[fields...]', `key=value, as Vault takes them: ${Object.keys(FIELDS).join(', ')}`)
      .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
      .action(async (path: string, fields: string[], opts: { format: OutputFormat }, command: Command) => {
        const where = parseVaultPath(verb, path);
        if (where.path === 'static-creds') {
          if (fields.length) throw new UserError(`${path} takes no fields (got ${fields.join(' ')})`);
          return printStaticCreds(run, command, where.mount, where.role, opts.format);
        }
        await issueAndPrint(run, command, { ...where, path: where.path, ...parseFields(fields) }, opts.format);
      });
  }
}

/** MOUNT/creds/ROLE or MOUNT/sts/ROLE, and for read MOUNT/static-creds/NAME (Vault serves it read-only); a mount may itself hold slashes (team/aws). */
export function parseVaultPath(verb: string, path: string): Pick<IssueRequest, 'mount' | 'role'> & { path: IssueRequest['path'] | 'static-creds' } {
  const parts = path.replace(/^\/+|\/+$/g, '').split('/');
  const kind = parts.at(-2);
  const role = parts.at(-1);
  const kinds = verb === 'read' ? (['creds', 'sts', 'static-creds'] as const) : (['creds', 'sts'] as const);
  const known = kinds.find((k) => k === kind);
  if (parts.length < 3 || !known || !role) {
    const hint = kind === 'roles' ? '; roles are files of the secrets repo (roles/NAME.json), applied by credops reconcile' : '';
    const statics = verb === 'read' ? ' (and MOUNT/static-creds/NAME)' : '';
    throw new UserError(`credops ${verb} serves MOUNT/creds/ROLE and MOUNT/sts/ROLE${statics} (e.g. aws/creds/deploy), not "${path}"${hint}`);
  }
  return { mount: parts.slice(0, -2).join('/'), role, path: known };
}

function parseFields(fields: string[]): Partial<IssueRequest> {
  let request: Partial<IssueRequest> = {};
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = eq < 0 ? field : field.slice(0, eq);
    const parse = Object.hasOwn(FIELDS, key) ? FIELDS[key as keyof typeof FIELDS] : undefined;
    if (eq < 0 || !parse) {
      throw new UserError(`"${field}" is not a field of this path; it takes key=value with key one of ${Object.keys(FIELDS).join(', ')}`);
    }
    request = { ...request, ...parse(field.slice(eq + 1)) };
  }
  return request;
}
