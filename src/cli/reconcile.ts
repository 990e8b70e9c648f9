import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { parsePlanJson } from '../plan/index.js';
import type { ReconcileResult } from '../reconcile/index.js';
/** Loaded when an action runs, not with the CLI (issue #11). */
const reconcileModule = () => import('../reconcile/index.js');
import { progressReporter, summaryLine } from './progress.js';
import { withLock, withRuntime, type Run } from './runtime.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';

interface ReconcileOptions extends RepoOptions {
  format: 'text' | 'json';
  plan?: string;
  refresh: boolean;
  adopt: string[];
}

export function registerReconcile(program: Command, run: Run): void {
  addRepoOptions(program.command('reconcile').description('apply the repo to the state and AWS: roles, sinks, revocations'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--plan <file>', 'apply exactly this saved plan (from `credops plan --out`), refused if stale')
    .option('--no-refresh', 'do not check live leases against AWS for drift (and so do not repair it)')
    .option('--adopt <sink>', 'take over this sink\'s target even if another credops state published it (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      const saved = opts.plan ? parsePlanJson(readSavedPlan(resolve(run.io.cwd, opts.plan))) : undefined;
      // Every role is checked, and carries the digest that lets a later plan skip its file while it does not change (load/reuse.ts).
      const { model, warnings } = await readDesired(opts, run.io, { applied: async () => [] });
      const progress = progressReporter({ write: (text) => run.io.stderr(text), isTTY: run.io.isTTY });
      const log = opts.format === 'text' ? progress.log : () => {};
      const result = await withRuntime(cmd, run, (rt) =>
        withLock(cmd, rt.state, 'reconcile', async () => {
          try {
            const unknown = opts.adopt.filter((name) => !model.sinks.some((s) => s.name === name));
            if (unknown.length) throw new UserError(`--adopt ${unknown.join(', ')}: no such sink in the repo (sinks: ${model.sinks.map((s) => s.name).join(', ') || 'none'})`);
            const sinks = opts.adopt.length ? { ...rt.sinks, adopt: new Set(opts.adopt) } : rt.sinks;
            return await (await reconcileModule()).reconcile({ ...rt, sinks, log }, model, { saved, warnings, refresh: opts.refresh });
          } finally {
            progress.finish();
          }
        }),
        { config: model.config },
      );
      run.io.stdout(opts.format === 'json' ? `${JSON.stringify(resultJson(result), null, 2)}\n` : summaryLine(result));
      if (result.failed.length || result.sinks.some((s) => s.outcome === 'failed') || result.staticRoles?.some((s) => s.outcome === 'failed')) run.exitCode = 1;
    });
}

function readSavedPlan(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read saved plan ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function resultJson(r: ReconcileResult) {
  return {
    commit: r.plan.commit,
    applied: r.applied,
    summary: r.plan.summary,
    sinks: r.sinks.map((s) => ({
      name: s.sink,
      outcome: s.outcome,
      ...(s.reason && { reason: s.reason }),
      ...(s.target && { target: s.target }),
      ...(s.leaseId && { lease_id: s.leaseId }),
      ...(s.expiresAt !== undefined && { expires_at: new Date(s.expiresAt).toISOString() }),
      retired: s.retired,
      revoked: s.revoked,
      ...(s.error && { error: s.error }),
    })),
    ...(r.staticRoles && {
      static_roles: r.staticRoles.map((s) => ({
        mount: s.mount,
        name: s.name,
        username: s.username,
        outcome: s.outcome,
        ...(s.reason && { reason: s.reason }),
        ...(s.accessKeyId && { access_key: s.accessKeyId }),
        deleted: s.deleted,
        published: s.published,
        ...(s.error && { error: s.error }),
      })),
    }),
    ...(r.drift && { drift: r.drift.map((d) => ({ lease_id: d.leaseId, sink: d.sink ?? null, kind: d.kind, detail: d.detail })) }),
    revoked: r.revoked,
    failed: r.failed.map((f) => ({ lease_id: f.leaseId, error: f.error })),
  };
}
