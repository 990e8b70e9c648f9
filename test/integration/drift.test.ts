/**
 * Story: CI keeps the `deploy` role's key in Secrets Manager (ci/deploy) and
 * a second copy for auditors (ci/audit). Someone deletes ci/deploy's IAM user
 * in the console. `credops plan --refresh` shows it as drift (exit 2 with
 * --detailed-exitcode, as a change would); the next `credops reconcile`
 * drops the dead lease and publishes a fresh, working key to ci/deploy in the
 * same run, leaves ci/audit alone, and a second reconcile writes nothing.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../../src/load/index.js';
import { asCred, cli, fixtureRepo, MINUTE_MS, secretCredential, eachSinkWorld, type SinkWorld } from '../reconcile/harness.js';
import { callerIdentity, rejectionCode } from './helpers.js';

let w: SinkWorld;
eachSinkWorld((world) => (w = world));

/** Publishes both sinks' keys as if ten minutes ago: drift checks leave alone what IAM may not show yet. */
async function publishedTenMinutesAgo(repo: string) {
  w.aws.clock.set(Date.now() - 10 * MINUTE_MS);
  const { model } = await loadDesired({ repo, cacheDir: join(w.dir, '.credops/cache') });
  const result = await w.reconcile(model);
  w.aws.clock.set(Date.now());
  expect(result.sinks.map((s) => s.outcome)).toEqual(['issued', 'issued']);
  return result;
}

describe('a user deleted outside credops', () => {
  it('shows as drift in plan --refresh and is repaired by the next reconcile', async () => {
    const repo = fixtureRepo(w, 'sinks-secretsmanager');
    await publishedTenMinutesAgo(repo);
    const deploy = secretCredential(w.aws, 'ci/deploy');
    const audit = secretCredential(w.aws, 'ci/audit');
    const lease = (await w.t.state.getLease(deploy.lease_id))!;
    const userName = lease.resources.userName!;

    // Nothing drifted yet: the refreshed plan is empty and reads only.
    w.aws.resetCalls();
    const clean = await cli(w, ['plan', '--repo', repo, '--refresh', '--detailed-exitcode']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe('No changes. The state matches the repo at dirty.\n');
    expect(w.writes()).toEqual([]);

    w.aws.iam.deleteUser(userName);

    // Without --refresh the plan does not look at AWS.
    const blind = await cli(w, ['plan', '--repo', repo, '--detailed-exitcode']);
    expect(blind.code).toBe(0);

    const text = await cli(w, ['plan', '--repo', repo, '--refresh', '--detailed-exitcode']);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain(`! lease ${deploy.lease_id} (sink ci-deploy)`);
    expect(text.stdout).toContain(`user_deleted: IAM user ${userName} no longer exists`);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe(
      'No changes. The state matches the repo at dirty. Drift: 1 lease has changed outside credops; reconcile repairs it.',
    );
    expect(text.stdout).not.toContain(deploy.SecretAccessKey);

    const json = await cli(w, ['plan', '--repo', repo, '--refresh', '--format', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).drift).toEqual([
      { lease_id: deploy.lease_id, sink: 'ci-deploy', kind: 'user_deleted', detail: `IAM user ${userName} no longer exists` },
    ]);

    const markdown = await cli(w, ['plan', '--repo', repo, '--refresh', '--format', 'markdown']);
    expect(markdown.stdout).toContain('#### Changes outside credops');
    expect(markdown.stdout).toContain(`- \`${deploy.lease_id}\` (sink \`ci-deploy\`) \`user_deleted\`: IAM user ${userName} no longer exists`);

    // The repair: the dead lease is dropped and ci/deploy gets a working key in the same run.
    const repaired = await cli(w, ['reconcile', '--repo', repo, '--format', 'json']);
    expect(repaired.code).toBe(0);
    const out = JSON.parse(repaired.stdout);
    expect(out.drift).toEqual([{ lease_id: deploy.lease_id, sink: 'ci-deploy', kind: 'user_deleted', detail: `IAM user ${userName} no longer exists` }]);
    expect(out.revoked).toEqual([deploy.lease_id]);
    expect(out.sinks).toMatchObject([
      { name: 'ci-audit', outcome: 'unchanged' },
      { name: 'ci-deploy', outcome: 'issued', reason: 'its lease is gone' },
    ]);
    expect(await w.t.state.getLease(deploy.lease_id)).toBeUndefined();
    const fresh = secretCredential(w.aws, 'ci/deploy');
    expect(fresh.lease_id).not.toBe(deploy.lease_id);
    expect((await callerIdentity(w.aws, asCred(fresh))).Arn).toMatch(/:user\/credops-deploy-/);
    expect(await rejectionCode(callerIdentity(w.aws, asCred(deploy)))).toBe('InvalidClientTokenId');
    // ci/audit kept its key, which still works.
    expect(secretCredential(w.aws, 'ci/audit').AccessKeyId).toBe(audit.AccessKeyId);
    await callerIdentity(w.aws, asCred(audit));

    // Repaired means repaired: the next reconcile of the same repo reads AWS and writes nothing.
    w.aws.resetCalls();
    const again = await cli(w, ['reconcile', '--repo', repo]);
    expect(again.code).toBe(0);
    expect(w.aws.calls.some((c) => c.action === 'GetUser')).toBe(true);
    expect(w.writes()).toEqual([]);
    expect((await cli(w, ['plan', '--repo', repo, '--refresh', '--detailed-exitcode'])).code).toBe(0);
  });

  it('is left alone by reconcile --no-refresh, which does not look', async () => {
    const repo = fixtureRepo(w, 'sinks-secretsmanager');
    await publishedTenMinutesAgo(repo);
    const deploy = secretCredential(w.aws, 'ci/deploy');
    w.aws.iam.deleteUser((await w.t.state.getLease(deploy.lease_id))!.resources.userName!);

    w.aws.resetCalls();
    const run = await cli(w, ['reconcile', '--repo', repo, '--no-refresh', '--format', 'json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).drift).toBeUndefined();
    expect(w.aws.calls.filter((c) => c.action === 'GetUser')).toEqual([]);
    expect(secretCredential(w.aws, 'ci/deploy').lease_id).toBe(deploy.lease_id);
  });
});
