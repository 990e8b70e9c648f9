import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { parsePlanJson } from '../plan/index.js';
import { createAwsClients } from '../aws/clients.js';
import { systemClock } from '../clock.js';
import { reconcile, type ReconcileResult } from '../reconcile/index.js';
import { progressReporter, summaryLine } from '../reconcile/progress.js';
import { makeEngine } from './engine.js';
import { withLock, withState, type Run } from './runtime.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';

interface ReconcileOptions extends RepoOptions {
  format: 'text' | 'json';
  plan?: string;
  refresh: boolean;
}

export function registerReconcile(program: Command, run: Run): void {
  addRepoOptions(program.command('reconcile').description('apply the repo to the state and AWS: roles, sinks, revocations'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--plan <file>', 'apply exactly this saved plan (from `credops plan --out`), refused if stale')
    .option('--no-refresh', 'do not check live leases against AWS for drift (and so do not repair it)')
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      const saved = opts.plan ? parsePlanJson(readSavedPlan(resolve(run.io.cwd, opts.plan))) : undefined;
      const { model, warnings } = await readDesired(opts, run.io);
      const progress = progressReporter({ write: (text) => run.io.stderr(text), isTTY: run.io.isTTY });
      const log = opts.format === 'text' ? progress.log : () => {};
      const result = await withState(cmd, run, (state) =>
        withLock(cmd, state, 'reconcile', async () => {
          const sinks = { clients: createAwsClients({ state, env: run.io.env }), cwd: run.io.cwd, home: run.io.env.HOME };
          try {
            return await reconcile({ state, engine: makeEngine(state, run.io, sinks.clients), sinks, clock: systemClock, log }, model, { saved, warnings, refresh: opts.refresh });
          } finally {
            progress.finish();
          }
        }),
      );
      run.io.stdout(opts.format === 'json' ? `${JSON.stringify(resultJson(result), null, 2)}\n` : summaryLine(result));
      if (result.failed.length || result.sinks.some((s) => s.outcome === 'failed')) run.exitCode = 1;
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
    ...(r.drift && { drift: r.drift.map((d) => ({ lease_id: d.leaseId, sink: d.sink ?? null, kind: d.kind, detail: d.detail })) }),
    revoked: r.revoked,
    failed: r.failed.map((f) => ({ lease_id: f.leaseId, error: f.error })),
  };
}
