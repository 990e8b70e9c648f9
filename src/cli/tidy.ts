import { Option, type Command } from 'commander';
import type { DeleteOrphansResult, OrphanUser } from '../engine/orphans.js';
/** Loaded when an action runs, not with the CLI (issue #11). */
const orphansModule = () => import('../engine/orphans.js');
import { OUTPUT_FORMATS, type OutputFormat } from './lease-format.js';
import { withLock, withRuntime, type Run } from './runtime.js';

interface TidyOptions {
  orphans?: boolean;
  delete?: boolean;
  mount?: string;
  format: OutputFormat;
}

/**
 * `credops tidy --orphans [--delete]`: IAM users credops created that the
 * state does not know (src/reconcile/orphans.ts). Listing is read-only;
 * --delete holds the state lock and recovers the journal first, so that no
 * issuance is in flight and a half-created user is rolled back by the journal,
 * not taken for an orphan. (`credops lease tidy` revokes expired leases.)
 */
export function registerTidy(program: Command, run: Run): void {
  program
    .command('tidy')
    .description('find IAM users credops created that the state does not know (after a lost state file), and delete them')
    .option('--orphans', 'list IAM users under credops\'s paths with its tags or user names that no lease or journal entry names')
    .option('--delete', 'delete them, with everything attached, in the safe revocation order')
    .option('--mount <mount>', 'only this mount (default: every mount in the state, or "aws")')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (opts: TidyOptions, cmd: Command) => {
      if (!opts.orphans) cmd.error('error: say what to tidy: --orphans (expired leases: credops lease tidy)');
      await withRuntime(cmd, run, async (rt) => {
        const { state, clients } = rt;
        if (!opts.delete) {
          run.io.stdout(formatOrphans(await (await orphansModule()).findOrphans({ state, clients }, { mount: opts.mount }), opts.format));
          return;
        }
        await withLock(cmd, state, 'tidy --orphans --delete', async () => {
          const recovered = await rt.engine.recover();
          if (recovered.pending || recovered.failed.length) {
            run.io.stderr(`Note: ${recovered.pending + recovered.failed.length} interrupted issuance(s) are still in the journal; their users are kept for the next run.\n`);
          }
          const orphans = await (await orphansModule()).findOrphans({ state, clients }, { mount: opts.mount });
          const result = await (await orphansModule()).deleteOrphans(rt, orphans);
          run.io.stdout(formatOrphans(orphans, opts.format, result));
          for (const f of result.failed) run.io.stderr(`Error: deleting ${f.userName}: ${f.error}\n`);
          if (result.failed.length) run.exitCode = 1;
        });
      }, { readOnly: !opts.delete });
    });
}

export function formatOrphans(orphans: OrphanUser[], format: OutputFormat, deleted?: DeleteOrphansResult): string {
  if (format === 'json') {
    const json = {
      orphans: orphans.map((o) => ({
        mount: o.mount,
        user_name: o.userName,
        path: o.path,
        arn: o.arn ?? null,
        created: o.createdAt === undefined ? null : new Date(o.createdAt).toISOString(),
        role: o.role ?? null,
        lease_id: o.leaseId ?? null,
        matched_by: o.matchedBy,
      })),
      ...(deleted && { deleted: deleted.deleted, already_gone: deleted.absent, failed: deleted.failed.map((f) => ({ user_name: f.userName, error: f.error })) }),
    };
    return `${JSON.stringify(json, null, 2)}\n`;
  }
  if (!orphans.length) return 'No orphaned IAM users: every credops user in AWS is known to the state.\n';
  const rows = [
    ['User', 'Path', 'Created', 'Mount', 'Lease', 'Matched by'],
    ...orphans.map((o) => [o.userName, o.path, o.createdAt === undefined ? '-' : new Date(o.createdAt).toISOString(), o.mount, o.leaseId ?? '-', o.matchedBy === 'tags' ? 'credops tags' : 'user name']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 4))).join('').trimEnd()).join('\n');
  const summary = deleted
    ? `Deleted ${deleted.deleted.length} orphaned IAM user${deleted.deleted.length === 1 ? '' : 's'}; ${deleted.absent.length} already gone; ${deleted.failed.length} failed.`
    : `${orphans.length} orphaned IAM user${orphans.length === 1 ? '' : 's'}. Delete with: credops tidy --orphans --delete`;
  return `${table}\n\n${summary}\n`;
}
