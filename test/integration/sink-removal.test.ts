/**
 * Story: a team deletes sinks/ci-deploy.yaml in a pull request. On the next
 * reconcile the secret is deleted (with its recovery window) and the key it
 * held stops working. A sink with `deletion_policy: retain` keeps its secret,
 * but its key is revoked all the same: the repo no longer grants that access.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asCred, cli, fixtureRepo, model, secretCredential, sink, eachSinkWorld, type SinkWorld } from '../reconcile/harness.js';
import { callerIdentity, credopsUsers, rejectionCode } from './helpers.js';

let w: SinkWorld;
eachSinkWorld((world) => (w = world));

describe('a sink removed from the repo', () => {
  it('has its secret scheduled for deletion and its key refused; a retained one keeps its secret', async () => {
    const repo = fixtureRepo(w, 'sinks-secretsmanager');
    const first = await cli(w, ['reconcile', '--repo', repo]);
    expect(first.stderr).toEqual(expect.stringContaining('sink ci-deploy: issue (new sink): issued'));
    expect(first.stdout).toBe('Reconcile complete: 4 added, 0 changed, 0 destroyed; sinks: 2 issued, 0 rotated, 0 failed; 0 leases revoked.\n');
    expect(first.code).toBe(0);
    const deployKey = secretCredential(w.aws, 'ci/deploy');
    const auditKey = secretCredential(w.aws, 'ci/audit');
    await callerIdentity(w.aws, asCred(deployKey));

    rmSync(join(repo, 'sinks/ci-deploy.yaml'));
    rmSync(join(repo, 'sinks/ci-audit.yaml'));
    const removed = await cli(w, ['reconcile', '--repo', repo, '--format', 'json']);
    expect(removed.code).toBe(0);
    const result = JSON.parse(removed.stdout) as { sinks: { name: string; outcome: string; revoked: string[] }[]; revoked: string[] };
    expect(result.sinks).toEqual([
      expect.objectContaining({ name: 'ci-audit', outcome: 'removed', revoked: [auditKey.lease_id] }),
      expect.objectContaining({ name: 'ci-deploy', outcome: 'removed', revoked: [deployKey.lease_id] }),
    ]);

    const deleted = w.aws.secrets.get('ci/deploy')!;
    expect(deleted.deletedDate).toBeDefined();
    expect(deleted.deletionDate! - deleted.deletedDate!).toBe(7 * 86_400_000);
    expect(w.aws.secrets.list().map((s) => s.name)).toEqual(['ci/audit']);
    expect(await rejectionCode(callerIdentity(w.aws, asCred(deployKey)))).toBe('InvalidClientTokenId');
    expect(await rejectionCode(callerIdentity(w.aws, asCred(auditKey)))).toBe('InvalidClientTokenId');
    expect(credopsUsers(w.aws)).toEqual([]);
    expect(await w.t.state.listLeases()).toEqual([]);
  });

  it('whose secret could not be deleted is retried by the next reconcile; its key is revoked at once', async () => {
    const spec = sink('ci-deploy', 'secretsmanager', { name: 'ci/deploy', recovery_window_days: 7 });
    await w.reconcile(model('c1', [spec]));
    const key = secretCredential(w.aws, 'ci/deploy');
    w.aws.faults.failNext('DeleteSecret', 'AccessDeniedException');

    const failed = await w.reconcile(model('c2', []));
    expect(failed.sinks).toMatchObject([{ sink: 'ci-deploy', outcome: 'failed', revoked: [key.lease_id] }]);
    expect(w.aws.secrets.get('ci/deploy')?.deletedDate).toBeUndefined();
    expect(await rejectionCode(callerIdentity(w.aws, asCred(key)))).toBe('InvalidClientTokenId');

    const retried = await w.reconcile(model('c2', []));
    expect(retried.sinks).toMatchObject([{ sink: 'ci-deploy', outcome: 'removed', revoked: [] }]);
    expect(w.aws.secrets.get('ci/deploy')?.deletedDate).toBeDefined();
    // Done: nothing left to retry, and nothing more to write.
    w.aws.resetCalls();
    expect((await w.reconcile(model('c2', []))).sinks).toEqual([]);
    expect(w.aws.calls.filter((c) => !/^(Get|List|Describe)/.test(c.action))).toEqual([]);
  });

  it('comes back from its recovery window when it is added again', async () => {
    const spec = sink('ci-deploy', 'secretsmanager', { name: 'ci/deploy', recovery_window_days: 7 });
    await w.reconcile(model('c1', [spec]));
    await w.reconcile(model('c2', []));
    expect(w.aws.secrets.get('ci/deploy')?.deletedDate).toBeDefined();
    const again = await w.reconcile(model('c3', [spec]));
    expect(again.sinks).toMatchObject([{ outcome: 'issued' }]);
    expect(w.aws.secrets.get('ci/deploy')?.deletedDate).toBeUndefined();
    await callerIdentity(w.aws, asCred(secretCredential(w.aws, 'ci/deploy')));
  });

  it('with recovery_window_days 0 is deleted at once', async () => {
    await w.reconcile(model('c1', [sink('ci-deploy', 'secretsmanager', { name: 'ci/deploy', recovery_window_days: 0 })]));
    await w.reconcile(model('c2', []));
    expect(w.aws.secrets.list({ includePlannedDeletion: true })).toEqual([]);
  });
});
