import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { parsePlanJson } from '../plan/index.js';
import { reconcile, type ReconcileEvent, type ReconcileResult } from '../reconcile/index.js';
import { makeEngine } from './engine.js';
import { withLock, withState, type Run } from './runtime.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';

interface ReconcileOptions extends RepoOptions {
  format: 'text' | 'json';
  plan?: string;
}

export function registerReconcile(program: Command, run: Run): void {
  addRepoOptions(program.command('reconcile').description('apply the repo to the state and AWS: roles, sinks, revocations'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--plan <file>', 'apply exactly this saved plan (from `credops plan --out`), refused if stale')
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      const saved = opts.plan ? parsePlanJson(readSavedPlan(resolve(run.io.cwd, opts.plan))) : undefined;
      const { model, warnings } = await readDesired(opts, run.io);
      const log = opts.format === 'text' ? (e: ReconcileEvent) => run.io.stderr(describeEvent(e)) : () => {};
      const result = await withState(cmd, run, (state) =>
        withLock(cmd, state, 'reconcile', () => reconcile({ state, engine: makeEngine(state, run.io), log }, model, { saved, warnings })),
      );
      run.io.stdout(opts.format === 'json' ? `${JSON.stringify(resultJson(result), null, 2)}\n` : summaryLine(result));
      if (result.failed.length) run.exitCode = 1;
    });
}

function readSavedPlan(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read saved plan ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function describeEvent(e: ReconcileEvent): string {
  switch (e.kind) {
    case 'recovered':
      return `Recovered the journal: ${e.rolledBack} half-done issuances rolled back, ${e.completed} completed.\n`;
    case 'applied':
      return `Applied commit ${e.commit}: ${e.add} added, ${e.change} changed, ${e.destroy} destroyed.\n`;
    case 'no-changes':
      return `No changes. The state matches the repo at ${e.commit}.\n`;
    case 'revoke':
      return `[${e.done}/${e.total}] revoke ${e.leaseId} (${e.reason})${e.error ? `: FAILED: ${e.error}` : ''}\n`;
  }
}

function summaryLine(r: ReconcileResult): string {
  const s = r.plan.summary;
  return (
    `Reconcile complete: ${s.add} added, ${s.change} changed, ${s.destroy} destroyed; ` +
    `${r.revoked.length} leases revoked${r.failed.length ? `, ${r.failed.length} failed` : ''}.\n`
  );
}

function resultJson(r: ReconcileResult) {
  return {
    commit: r.plan.commit,
    applied: r.applied,
    summary: r.plan.summary,
    revoked: r.revoked,
    failed: r.failed.map((f) => ({ lease_id: f.leaseId, error: f.error })),
  };
}
