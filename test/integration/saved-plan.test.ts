/**
 * Story: Terraform's saved plans. A reviewer approves `credops plan --out
 * plan.json` for commit B; before it is applied, another run reconciles
 * commit C. Applying the saved plan now would apply something nobody
 * reviewed, so `credops reconcile --plan plan.json` refuses, naming what moved:
 * the state's serial and applied commit, or the repo's commit. Nothing is
 * written, to the state or to AWS. A plan made afresh applies.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, sinkWorld, type SinkWorld } from '../reconcile/harness.js';

let w: SinkWorld;
let repo: string;
let git: SimpleGit;
beforeEach(async () => {
  w = await sinkWorld();
  repo = join(w.dir, 'secrets');
  mkdirSync(join(repo, 'roles'), { recursive: true });
  writeFileSync(join(repo, 'credops.yaml'), 'version: 1\nmounts:\n  aws:\n    lease: 1h\n    lease_max: 1h\n');
  git = simpleGit(repo);
  await git.init();
  await git.addConfig('user.name', 'Test').addConfig('user.email', 'test@example.com').addConfig('commit.gpgsign', 'false');
});
afterEach(async () => {
  await w.close();
});

/** Writes roles/NAME.json allowing these actions and commits it; returns the commit SHA. */
async function commitRole(name: string, actions: string[]): Promise<string> {
  const role = { credential_type: 'iam_user', policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] } };
  writeFileSync(join(repo, 'roles', `${name}.json`), `${JSON.stringify(role, null, 2)}\n`);
  await git.add('.');
  await git.commit(`role ${name}: ${actions.join(', ')}`);
  return (await git.revparse(['HEAD'])).trim();
}

const PLAN_FILE = 'plan.json';
const savedPlan = () => JSON.parse(readFileSync(join(w.dir, PLAN_FILE), 'utf8')) as { commit: string; state: { commit: string; serial: number } };

describe('a saved plan', () => {
  it('is refused once the state moved, and for another commit; a fresh plan applies', async () => {
    const a = await commitRole('deploy', ['s3:GetObject']);
    const main = (await git.revparse(['--abbrev-ref', 'HEAD'])).trim();
    expect((await cli(w, ['reconcile', '--repo', repo])).code).toBe(0);

    // Branch B: the change under review, saved.
    await git.checkoutLocalBranch('widen');
    const b = await commitRole('deploy', ['s3:GetObject', 's3:PutObject']);
    const planned = await cli(w, ['plan', '--repo', repo, '--out', PLAN_FILE, '--detailed-exitcode']);
    expect(planned.code).toBe(2);
    expect(savedPlan()).toMatchObject({ commit: b, state: { commit: a, serial: 1 } });

    // Meanwhile main moves on to C and is reconciled.
    await git.checkout(main);
    const c = await commitRole('audit', ['cloudtrail:LookupEvents']);
    expect((await cli(w, ['reconcile', '--repo', repo])).code).toBe(0);
    const stateAfterC = await w.t.state.getApplied();
    expect(stateAfterC).toMatchObject({ commit: c, serial: 2 });

    // Back on B, the reviewed plan is stale: the state changed under it.
    await git.checkout('widen');
    w.aws.resetCalls();
    const stale = await cli(w, ['reconcile', '--repo', repo, '--plan', PLAN_FILE]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toBe(
      `Error: saved plan is stale: the state changed since it was made (serial 1 -> 2, applied commit ${a} -> ${c}); run credops plan again\n`,
    );
    expect(await w.t.state.getApplied()).toEqual(stateAfterC);
    expect(w.writes()).toEqual([]);

    // On C, the plan made for B is not this commit's plan.
    await git.checkout(main);
    const other = await cli(w, ['reconcile', '--repo', repo, '--plan', PLAN_FILE]);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(`Error: saved plan was made for commit ${b}, but the repo is now at ${c}; run credops plan again\n`);
    expect(await w.t.state.getApplied()).toEqual(stateAfterC);

    // Planned again on B, against the state as it is now, it applies exactly that.
    await git.checkout('widen');
    expect((await cli(w, ['plan', '--repo', repo, '--out', PLAN_FILE])).code).toBe(0);
    expect(savedPlan()).toMatchObject({ commit: b, state: { commit: c, serial: 2 } });
    const applied = await cli(w, ['reconcile', '--repo', repo, '--plan', PLAN_FILE]);
    expect(applied.stderr).not.toContain('Error');
    expect(applied.code).toBe(0);
    expect(await w.t.state.getApplied()).toMatchObject({ commit: b, serial: 3 });
  });
});
