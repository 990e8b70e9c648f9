import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
/** Loaded when an action runs, not with the CLI (issue #11). */
const reconcileModule = () => import('../reconcile/plan.js');
/** Loaded when an action runs, not with the CLI (issue #11). */
const driftModule = () => import('../reconcile/drift.js');
import { PLAN_FORMATS, planHasChanges, planHasDrift, planHasWork, renderPlan, type PlanFormat } from '../plan/index.js';
import { openRunState, runtimeFor, useColor, type Run } from './runtime.js';
import type { Location } from './location.js';
import type { AppliedSnapshot, Plan } from '../model/types.js';
import type { StateStore } from '../state/store.js';
import { runClock } from './test-clock.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';

interface PlanOptions extends RepoOptions {
  format: PlanFormat;
  out?: string;
  detailedExitcode?: boolean;
  refresh?: boolean;
}

export function registerPlan(program: Command, run: Run): void {
  addRepoOptions(program.command('plan').description('show what reconcile would change (Terraform-style plan)'))
    .addOption(new Option('--format <format>', 'output format').choices(PLAN_FORMATS).default('text'))
    .option('--out <file>', 'also save the plan (JSON) for `credops reconcile --plan FILE`')
    .option('--detailed-exitcode', 'exit 2 when the plan has changes (or drift, with --refresh), 0 when it has none')
    .option('--refresh', 'also check every live lease against AWS (read-only) and show drift')
    .action(async (opts: PlanOptions, cmd: Command) => {
      // The state is opened as soon as the repo's config says where it is, before the roles are
      // checked: role files unchanged since they were applied are not checked again (load/reuse.ts).
      const held: { opened?: { state: StateStore; where: Location }; applied?: AppliedSnapshot } = {};
      try {
        const { model, warnings } = await readDesired(opts, run.io, {
          applied: async (config) => {
            held.opened = await openRunState(cmd, run, { readOnly: true, config });
            held.applied = await held.opened.state.getApplied();
            return held.applied.roles;
          },
        });
        const { state, where } = (held.opened ??= await openRunState(cmd, run, { readOnly: true, config: model.config }));
        const { planAgainstState } = await reconcileModule();
        const applied = held.applied;
        // Without --refresh nothing reaches AWS, and the AWS SDK is not even loaded.
        let plan: Plan;
        if (opts.refresh) {
          const rt = await runtimeFor(state, run.io, where);
          plan = await (await driftModule()).refreshPlan(await planAgainstState(state, model, warnings, { sinks: rt.sinks, now: rt.clock.now(), applied }), rt);
        } else {
          plan = await planAgainstState(state, model, warnings, { sinks: { cwd: run.io.cwd, home: run.io.env.HOME, stateId: state.id }, now: runClock(run.io.env).now(), applied });
        }
        run.io.stdout(renderPlan(plan, opts.format, { color: opts.format === 'text' && useColor(run.io) }));
        if (opts.out) writeFileSync(resolve(run.io.cwd, opts.out), renderPlan(plan, 'json'), { mode: 0o644 });
        if (opts.detailedExitcode && (planHasChanges(plan) || planHasDrift(plan) || planHasWork(plan))) run.exitCode = 2;
      } finally {
        await held.opened?.state.close();
      }
    });
}
