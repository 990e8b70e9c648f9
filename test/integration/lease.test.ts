/**
 * Story: an operator keeps an iam_user credential alive with `credops lease
 * renew` (no AWS call, never past lease_max), finds STS leases cannot be
 * renewed, looks leases up, and lets `credops lease tidy` revoke what expired.
 */
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import {
  eachTestWorld,
  applyRoles,
  callerIdentity,
  credopsUsers,
  engineFor,
  failure,
  HOUR,
  manualClock,
  mount,
  rejectionCode,
  role,
  runCli,
  type LocalAws,
  type TempState,
} from './helpers.js';

let aws: LocalAws;
let t: TempState;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  const deployer = aws.iam.createRole('deployer').arn;
  await applyRoles(
    t.state,
    [role('web', { credential_types: ['iam_user'] }), role('deploy', { credential_types: ['assumed_role'], role_arns: [deployer] })],
    [mount({ lease: HOUR, lease_max: 3 * HOUR })],
  );
});

const MIN = 60_000;

describe('renew', () => {
  it("extends an iam_user lease from now by the increment (default the mount's lease), never past lease_max, without calling AWS", async () => {
    const clock = manualClock();
    const { engine } = engineFor(aws, t, { clock });
    const { lease } = await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    expect(lease.expiresAt - lease.issuedAt).toBe(HOUR * 1000);
    expect(lease.maxExpiresAt - lease.issuedAt).toBe(3 * HOUR * 1000);
    aws.resetCalls();

    clock.advance(30 * MIN);
    const twoHours = await engine.renew(lease.leaseId, 2 * HOUR);
    expect(twoHours.expiresAt).toBe(clock.now() + 2 * HOUR * 1000);

    clock.advance(30 * MIN);
    const byDefault = await engine.renew(lease.leaseId);
    expect(byDefault.expiresAt).toBe(clock.now() + HOUR * 1000);

    const capped = await engine.renew(lease.leaseId, 10 * HOUR);
    expect(capped.expiresAt).toBe(lease.maxExpiresAt);
    expect(await t.state.getLease(lease.leaseId)).toEqual(capped);

    expect(aws.calls).toEqual([]);
    const renews = readFileSync(t.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { operation: string }).filter((l) => l.operation === 'renew');
    expect(renews).toHaveLength(3);
  });

  it('refuses an expired lease', async () => {
    const { engine } = engineFor(aws, t);
    const { lease } = await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    aws.clock.advance(HOUR * 1000 + 1);
    await expect(engine.renew(lease.leaseId)).rejects.toThrow('has expired');
  });

  it('refuses an STS lease, saying why, as Vault does', async () => {
    const { engine } = engineFor(aws, t);
    const { lease } = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts' });

    const err = await failure(engine.renew(lease.leaseId, HOUR));

    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/^lease is not renewable: .* is an STS credential \(assumed_role\), and AWS cannot extend one; request a new one with `credops sts deploy --mount aws`$/);
    expect(await t.state.getLease(lease.leaseId)).toEqual(lease);
  });

  it('refuses an unknown lease', async () => {
    const { engine } = engineFor(aws, t);
    await expect(engine.renew('aws/creds/web/nope')).rejects.toThrow('lease not found: aws/creds/web/nope');
    await expect(engine.revoke('aws/creds/web/nope')).rejects.toThrow('lease not found');
  });
});

describe('tidy', () => {
  it('revokes what expired, and replaced credentials past their revokeAt, and nothing else', async () => {
    const { engine } = engineFor(aws, t);
    const web = await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    const replaced = await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    const sts = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 900 });
    await t.state.putLease({ ...replaced.lease, revokeAt: aws.clock.now() + 5 * MIN });

    aws.clock.advance(10 * MIN);
    expect(await engine.tidy()).toEqual({ revoked: [replaced.lease.leaseId], failed: [], stillValid: [] });
    expect(await rejectionCode(callerIdentity(aws, replaced))).toBe('InvalidClientTokenId');

    aws.clock.advance(10 * MIN);
    expect(await engine.tidy()).toEqual({ revoked: [sts.lease.leaseId], failed: [], stillValid: [] }); // expired: refused already

    expect((await t.state.listLeases()).map((l) => l.leaseId)).toEqual([web.lease.leaseId]);
    aws.clock.advance(HOUR * 1000);
    expect((await engine.tidy()).revoked).toEqual([web.lease.leaseId]);
    expect(credopsUsers(aws)).toEqual([]);
  });
});

describe('tidy with an expiry index that lags behind (DynamoDB\'s secondary indexes are eventually consistent)', () => {
  it('reads each due lease again: one renewed since is left alone, and its key keeps working', async () => {
    const { engine } = engineFor(aws, t);
    const web = await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    await t.state.putLease({ ...web.lease, expiresAt: aws.clock.now() + MIN });
    // What the index holds: the lease due in a minute. Then it is renewed for an hour.
    const stale = await t.state.listLeases({ dueBy: aws.clock.now() + 2 * MIN });
    expect(stale.map((l) => l.leaseId)).toEqual([web.lease.leaseId]);
    await engine.renew(web.lease.leaseId, HOUR);
    aws.clock.advance(2 * MIN);

    // The index still answers what it held before the renewal.
    const lagging = new Proxy(t.state, {
      get: (target, key, receiver) =>
        key === 'listLeases' ? async (f?: { dueBy?: number }) => (f?.dueBy !== undefined ? stale : target.listLeases(f)) : Reflect.get(target, key, receiver),
    });
    const { engine: sweeping } = engineFor(aws, { ...t, state: lagging });
    expect(await sweeping.tidy()).toEqual({ revoked: [], failed: [], stillValid: [] });
    expect((await callerIdentity(aws, web)).Arn).toContain(web.lease.resources.userName!);
    expect(await t.state.getLease(web.lease.leaseId)).toBeDefined();
  });
});

describe('credops lease (CLI)', () => {
  it('lists, looks up, renews and tidies leases', async () => {
    const { engine } = engineFor(aws, t);
    const web = await engine.issue({ mount: 'aws', role: 'web', path: 'creds' });
    const sts = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts' });

    const list = await runCli(aws, t, ['lease', 'list', '--prefix', 'aws/creds/']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^Lease ID {4,}Type {4,}TTL {4,}Renewable {4,}Expires {4,}Sink$/);
    expect(list.stdout).toContain(web.lease.leaseId);
    expect(list.stdout).not.toContain(sts.lease.leaseId);

    const json = JSON.parse((await runCli(aws, t, ['lease', 'list', '--format', 'json'])).stdout) as { lease_id: string; credential_type: string; renewable: boolean }[];
    expect(json.map((l) => [l.lease_id, l.credential_type, l.renewable]).sort()).toEqual(
      [
        [web.lease.leaseId, 'iam_user', true],
        [sts.lease.leaseId, 'assumed_role', false],
      ].sort(),
    );

    const lookup = await runCli(aws, t, ['lease', 'lookup', web.lease.leaseId]);
    expect(lookup.code).toBe(0);
    expect(lookup.stdout).toMatch(new RegExp(`^id {4,}${web.lease.leaseId}$`, 'm'));
    expect(lookup.stdout).toMatch(/^renewable {4,}true$/m);
    expect(lookup.stdout).toMatch(/^ttl {4,}(1h|59m5\ds)$/m);
    expect(lookup.stdout).toMatch(new RegExp(`^user_name {4,}${web.lease.resources.userName}$`, 'm'));

    const renew = await runCli(aws, t, ['lease', 'renew', web.lease.leaseId, '--increment', '2h']);
    expect(renew.code).toBe(0);
    expect(renew.stdout).toMatch(/^lease_duration {5}(2h|1h59m5\ds)$/m);
    const capped = await runCli(aws, t, ['lease', 'renew', web.lease.leaseId, '--increment', '10h', '--format', 'json']);
    const cappedOut = JSON.parse(capped.stdout) as { lease_duration: number; warnings: string[] };
    expect(cappedOut.lease_duration).toBeLessThanOrEqual(3 * HOUR);
    expect(cappedOut.warnings[0]).toMatch(/^TTL of "10h" exceeded the effective max_ttl of ".*"; TTL value is capped accordingly$/);

    const missing = await runCli(aws, t, ['lease', 'lookup', 'aws/creds/web/nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error: lease not found: aws/creds/web/nope (see credops lease list)\n');

    const tidy = await runCli(aws, t, ['lease', 'tidy']);
    expect(tidy.code).toBe(0);
    expect(tidy.stdout).toBe('Revoked 0 expired leases; 0 failed\n');

    const revoke = await runCli(aws, t, ['lease', 'revoke', web.lease.leaseId]);
    expect(revoke.stdout).toBe(`Success! Revoked lease: ${web.lease.leaseId}\n`);
    expect(await rejectionCode(callerIdentity(aws, web))).toBe('InvalidClientTokenId');

    const usage = await runCli(aws, t, ['lease', 'revoke']);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('give either a lease id or --prefix PREFIX');
  }, 60_000);
});
