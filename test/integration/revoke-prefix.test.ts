/**
 * Story: a role's credentials leaked; the operator revokes every lease of the
 * role at once (`credops lease revoke --prefix aws/creds/web`) while IAM
 * throttles one call in five. Every lease is revoked exactly once, with a
 * bounded number of revocations in flight, and nothing outside the prefix is touched.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { REVOKE_CONCURRENCY } from '../../src/engine/index.js';
import { eachTestWorld, applyRoles, credopsUsers, engineFor, mount, role, runCli, type LocalAws, type TempState } from './helpers.js';

let aws: LocalAws;
let t: TempState;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  // max_retries is the mount's knob for a throttling account: at 20% throttling
  // the SDK default of 3 retries would give up on about one call in 600.
  await applyRoles(t.state, [role('web', { credential_types: ['iam_user'] }), role('web-admin', { credential_types: ['iam_user'] })], [mount({ max_retries: 8 })]);
});

/** Counts operations in flight on a real SDK client (initialize step: once per call, retries included). */
function observeInFlight(client: IAMClient): { max: () => number } {
  let now = 0;
  let max = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      max = Math.max(max, ++now);
      try {
        return await next(args);
      } finally {
        now--;
      }
    },
    { step: 'initialize', name: 'testInFlight' },
  );
  return { max: () => max };
}

const ok = (action: string) => aws.calls.filter((c) => c.action === action && c.status === 200).length;

describe('revoke --prefix', () => {
  /** Issues `count` web leases and 3 web-admin ones, then revokes aws/creds/web under 20% throttling. */
  async function revokeUnderThrottling(count: number, env: NodeJS.ProcessEnv = {}) {
    const { engine, clients } = engineFor(aws, t, { env });
    for (let i = 0; i < count; i++) await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    const bystanders = [];
    for (let i = 0; i < 3; i++) bystanders.push(await engine.issue({ mount: 'aws', role: 'web-admin', path: 'creds' }));
    const inFlight = observeInFlight(clients.iam(mount()));
    aws.resetCalls();
    aws.faults.set({ throttleRate: 0.2, latencyMs: 2 });
    let progress = 0;

    const result = await engine.revokePrefix('aws/creds/web', { onProgress: (done) => (progress = Math.max(progress, done)) });

    expect(result.failed).toEqual([]);
    expect(result.revoked).toHaveLength(count);
    expect(new Set(result.revoked).size).toBe(count);
    expect(progress).toBe(count);
    // Throttling really happened, and was retried.
    expect(aws.calls.filter((c) => c.code === 'Throttling').length).toBeGreaterThan(count / 5);
    // Exactly once: one successful DeleteAccessKey and DeleteUser per lease, and no second attempt on a gone user.
    expect(ok('DeleteUser')).toBe(count);
    expect(ok('DeleteAccessKey')).toBe(count);
    expect(aws.calls.filter((c) => c.code === 'NoSuchEntity')).toEqual([]);
    expect(inFlight.max()).toBeLessThanOrEqual(REVOKE_CONCURRENCY);
    expect(inFlight.max()).toBeGreaterThan(1);
    // web-admin is not under aws/creds/web/.
    expect(credopsUsers(aws).map((u) => u.userName).sort()).toEqual(bystanders.map((b) => b.lease.resources.userName).sort());
    expect((await t.state.listLeases()).map((l) => l.leaseId).sort()).toEqual(bystanders.map((b) => b.lease.leaseId).sort());
  }

  // Injected throttling hits one call in five whatever the rate, which the
  // adaptive mode's rate limiter answers by slowing the client to about three
  // calls a second (it is built for an AWS that stops throttling when calls
  // slow down). The 200-lease run therefore uses the SDK's standard mode
  // (AWS_RETRY_MODE, same backoff and jitter, no limiter); the default adaptive
  // mode gets the same assertions on 30 leases.
  it('revokes 200 leases exactly once each, with bounded concurrency, under 20% throttling', async () => {
    await revokeUnderThrottling(200, { AWS_RETRY_MODE: 'standard' });
  }, 120_000);

  it('does the same in the default adaptive retry mode', async () => {
    await revokeUnderThrottling(30);
  }, 120_000);

  it('honours a smaller concurrency', async () => {
    const { engine, clients } = engineFor(aws, t);
    for (let i = 0; i < 12; i++) await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    const inFlight = observeInFlight(clients.iam(mount()));
    aws.faults.set({ latencyMs: 5 });

    const result = await engine.revokePrefix('aws/creds/web/', { concurrency: 3 });

    expect(result.revoked).toHaveLength(12);
    expect(inFlight.max()).toBe(3);
  });

  it('prints how many succeeded and failed, and exits 1 when any failed (CLI)', async () => {
    const { engine } = engineFor(aws, t);
    for (let i = 0; i < 4; i++) await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    aws.faults.failNext('DeleteUser', 'AccessDenied', 1);

    const partly = await runCli(aws, t, ['lease', 'revoke', '--prefix', 'aws/creds/web']);

    expect(partly.code).toBe(1);
    expect(partly.stdout).toBe('Revoked 3 leases; 1 failed\n');
    expect(partly.stderr).toMatch(/^Error: revoking aws\/creds\/web\/\w{24}: aws\/roles\/web DeleteUser: AWS AccessDenied: /m);
    expect(await t.state.listLeases()).toHaveLength(1);

    const rest = await runCli(aws, t, ['lease', 'revoke', '--prefix', 'aws/creds/web']);
    expect(rest.code).toBe(0);
    expect(rest.stdout).toBe('Revoked 1 leases; 0 failed\n');
    expect(credopsUsers(aws)).toEqual([]);
  });

  it('list and revoke share one prefix rule, as Vault has: a prefix is a path, so web is not web-admin', async () => {
    const { engine } = engineFor(aws, t);
    const web = await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    const admin = await engine.issue({ mount: 'aws', role: 'web-admin', path: 'creds' });

    const listed = await runCli(aws, t, ['lease', 'list', '--prefix', 'aws/creds/web', '--format', 'json']);
    expect((JSON.parse(listed.stdout) as { lease_id: string }[]).map((l) => l.lease_id)).toEqual([web.lease.leaseId]);
    const partial = await runCli(aws, t, ['lease', 'list', '--prefix', 'aws/creds/we', '--format', 'json']);
    expect(JSON.parse(partial.stdout)).toEqual([]);
    const revoked = await runCli(aws, t, ['lease', 'revoke', '--prefix', 'aws/creds/we']);
    expect(revoked.stdout).toBe('Revoked 0 leases; 0 failed\n');
    // A whole lease id is that lease, for both.
    const exact = await runCli(aws, t, ['lease', 'list', '--prefix', admin.lease.leaseId, '--format', 'json']);
    expect((JSON.parse(exact.stdout) as { lease_id: string }[]).map((l) => l.lease_id)).toEqual([admin.lease.leaseId]);
    expect((await runCli(aws, t, ['lease', 'revoke', '--prefix', 'aws/creds/web'])).stdout).toBe('Revoked 1 leases; 0 failed\n');
    expect((await t.state.listLeases()).map((l) => l.leaseId)).toEqual([admin.lease.leaseId]);
  });
});
