import { Option, type Command } from 'commander';
import { systemClock } from '../clock.js';
import type { BulkRevokeResult, Engine } from '../engine/index.js';
import { REVOKE_CONCURRENCY } from '../engine/deps.js';
import { formatDuration, parseDuration } from '../duration.js';
import type { StateStore } from '../state/store.js';
import { formatLeaseList, formatLookup, formatRenewal, OUTPUT_FORMATS, remainingSeconds, type OutputFormat } from './lease-format.js';
import { runtimeFor, withLock, withState, type Io, type Run } from './runtime.js';

/**
 * `credops lease list | lookup | renew | revoke | tidy` (Vault's `vault lease`).
 * Every subcommand first recovers the journal (engine/journal.ts); the ones
 * that write hold the state lock for the whole command.
 */
export function registerLease(program: Command, run: Run): void {
  const lease = program.command('lease').description('list, look up, renew and revoke leases (vault lease)');
  const format = () => new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table');

  lease
    .command('list')
    .description('list leases, optionally under a prefix such as aws/creds/ROLE')
    .option('--prefix <prefix>', 'only leases whose id starts with this')
    .addOption(format())
    .action(async (opts: { prefix?: string; format: OutputFormat }, cmd: Command) => {
      await withReadingEngine(cmd, run, async (engine) => {
        const leases = opts.prefix ? await engine.under(opts.prefix) : await engine.list();
        run.io.stdout(formatLeaseList(leases, systemClock.now(), opts.format));
      });
    });

  lease
    .command('lookup')
    .description('show one lease')
    .argument('<lease_id>')
    .addOption(format())
    .action(async (leaseId: string, opts: { format: OutputFormat }, cmd: Command) => {
      await withReadingEngine(cmd, run, async (engine) => run.io.stdout(formatLookup(await engine.lookup(leaseId), systemClock.now(), opts.format)));
    });

  lease
    .command('renew')
    .description("extend an iam_user lease (no AWS call), up to the mount's lease_max; STS leases cannot be renewed")
    .argument('<lease_id>')
    .option('--increment <duration>', "new TTL from now, e.g. 1h (default: the mount's lease)")
    .addOption(format())
    .action(async (leaseId: string, opts: { increment?: string; format: OutputFormat }, cmd: Command) => {
      const increment = opts.increment === undefined ? undefined : parseDuration(opts.increment);
      await withLockedEngine(cmd, run, 'lease renew', async (engine) => {
        const renewed = await engine.renew(leaseId, increment);
        const now = systemClock.now();
        const warnings: string[] = [];
        const ttl = remainingSeconds(renewed, now);
        if (increment !== undefined && ttl < increment) {
          warnings.push(`TTL of "${formatDuration(increment)}" exceeded the effective max_ttl of "${formatDuration(ttl)}"; TTL value is capped accordingly`);
        }
        if (opts.format === 'table') for (const w of warnings) run.io.stderr(`Warning: ${w}\n`);
        run.io.stdout(formatRenewal(renewed, now, opts.format, warnings));
      });
    });

  lease
    .command('revoke')
    .description('revoke a lease, or with --prefix every lease under a prefix such as aws/creds/ROLE')
    .argument('[lease_id]')
    .option('--prefix <prefix>', 'revoke every lease under this prefix (Vault: vault lease revoke -prefix)')
    .option('--concurrency <n>', 'revocations in flight at once with --prefix', String(REVOKE_CONCURRENCY))
    .action(async (leaseId: string | undefined, opts: { prefix?: string; concurrency: string }, cmd: Command) => {
      if ((leaseId === undefined) === (opts.prefix === undefined)) {
        cmd.error('error: give either a lease id or --prefix PREFIX');
      }
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) cmd.error('error: --concurrency must be a whole number of at least 1');
      await withLockedEngine(cmd, run, 'lease revoke', async (engine) => {
        if (leaseId !== undefined) {
          const outcome = await engine.revoke(leaseId);
          run.io.stdout(`Success! Revoked lease: ${leaseId}\n`);
          if (!outcome.invalidated && outcome.validUntil !== undefined) run.io.stdout(stillValidNote(outcome.validUntil, outcome.reason));
          if (outcome.deniedBy !== undefined) run.io.stdout(deniedNote(outcome.deniedBy));
          return;
        }
        reportBulk(await engine.revokePrefix(opts.prefix!, { concurrency }), run, 'leases');
      });
    });

  lease
    .command('tidy')
    .description('revoke every lease past its expiry (reconcile does this too)')
    .action(async (_opts: unknown, cmd: Command) => {
      await withLockedEngine(cmd, run, 'lease tidy', async (engine) => reportBulk(await engine.tidy(), run, 'expired leases'));
    });
}

/** For commands that only read: opens the state (never creating it), recovers what a crashed run left, then runs fn. */
async function withReadingEngine(cmd: Command, run: Run, fn: (engine: Engine) => Promise<void>): Promise<void> {
  await withState(
    cmd,
    run,
    async (state, where) => {
      const engine = (await runtimeFor(state, run.io, where)).engine;
      await recoverIfNeeded(cmd, state, engine, run.io);
      await fn(engine);
    },
    { readOnly: true },
  );
}

/** Opens the state, takes the lock, recovers the journal, then runs fn. */
export async function withLockedEngine<T>(cmd: Command, run: Run, operation: string, fn: (engine: Engine) => Promise<T>): Promise<T> {
  return withState(cmd, run, (state, where) =>
    withLock(cmd, state, operation, async () => {
      const engine = (await runtimeFor(state, run.io, where)).engine;
      reportRecovery(await engine.recover(), run.io);
      return fn(engine);
    }),
  );
}

/**
 * Read-only commands recover too, so that a crashed run is cleaned up by the
 * next command whatever it is; they take the lock only when there is
 * something to recover (an entry of a live run in another process waits for
 * the lock, and is gone by the time it is free).
 */
async function recoverIfNeeded(cmd: Command, state: StateStore, engine: Engine, io: Io): Promise<void> {
  if (!(await engine.needsRecovery())) return;
  await withLock(cmd, state, 'lease recover', async () => reportRecovery(await engine.recover(), io));
}

function reportRecovery(r: Awaited<ReturnType<Engine['recover']>>, io: Io): void {
  if (r.rolledBack || r.completed) {
    io.stderr(`Recovered the journal: ${r.rolledBack} interrupted issuance${r.rolledBack === 1 ? '' : 's'} rolled back, ${r.completed} completed.\n`);
  }
  if (r.pending) io.stderr(`${r.pending} interrupted issuance${r.pending === 1 ? ' is' : 's are'} not visible in IAM yet; the next run retries.\n`);
  if (r.rootKeysDeleted.length) io.stderr(`Finished an interrupted rotate-root: deleted the root key(s) it left, ${r.rootKeysDeleted.join(', ')}.\n`);
  for (const f of r.failed) io.stderr(`Warning: could not roll back the interrupted ${f.leaseId === 'config/rotate-root' ? 'rotate-root' : `issuance of ${f.leaseId}`}: ${f.error}\n`);
}

function reportBulk(result: BulkRevokeResult, run: Run, what: string): void {
  for (const f of result.failed) run.io.stderr(`Error: revoking ${f.leaseId}: ${f.error}\n`);
  run.io.stdout(`Revoked ${result.revoked.length} ${what}; ${result.failed.length} failed\n`);
  if (result.stillValid.length) {
    run.io.stdout(
      `Note: ${result.stillValid.length} of them ${result.stillValid.length === 1 ? 'is an STS credential' : 'are STS credentials'} that credops could not deny ` +
        '(see the audit log for why): they stay valid until they expire.\n',
    );
  }
  if (result.failed.length) run.exitCode = 1;
}

function stillValidNote(validUntil: number, reason: string | undefined): string {
  const left = Math.max(0, Math.round((validUntil - systemClock.now()) / 1000));
  return (
    `Note: credops could not deny this STS credential${reason ? ` (${reason})` : ''}. The lease is gone, but the credential stays valid until ` +
    `${new Date(validUntil).toISOString()} (${formatDuration(left)} from now).\n`
  );
}

/** IAM applies a policy change everywhere within seconds, not at once (AWS: "a few minutes" at worst). */
function deniedNote(deniedBy: string): string {
  return `Note: AWS now refuses this STS credential through an explicit Deny in the ${deniedBy}; IAM may take a few seconds to apply it everywhere.\n`;
}
