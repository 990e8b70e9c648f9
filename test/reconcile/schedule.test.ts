import { describe, expect, it } from 'vitest';
import type { Lease, SinkSpec } from '../../src/model/types.js';
import { rotatingChange, scheduleSink } from '../../src/reconcile/lifecycle.js';
import type { SinkStatus } from '../../src/state/store.js';

const MIN = 60_000;
const T0 = Date.UTC(2030, 0, 1);

const spec = (overrides: Partial<SinkSpec> = {}): SinkSpec => ({
  name: 'ci',
  source: 'sinks/ci.yaml',
  mount: 'aws',
  role: 'deploy',
  type: 'secretsmanager',
  config: { name: 'ci/deploy' },
  ttl: 3600,
  grace: 300,
  deletion_policy: 'delete',
  verify: true,
  ...overrides,
});

const lease = (id: string, overrides: Partial<Lease> = {}): Lease => ({
  leaseId: `aws/creds/deploy/${id}`,
  mount: 'aws',
  role: 'deploy',
  credentialType: 'iam_user',
  path: 'creds',
  issuedAt: T0,
  expiresAt: T0 + 60 * MIN,
  maxExpiresAt: T0 + 60 * MIN,
  renewable: true,
  resources: {},
  sink: 'ci',
  ...overrides,
});

const status = (leaseId: string, s: Partial<SinkSpec> = {}, role = 'R1'): SinkStatus => ({
  published: { leaseId: `aws/creds/deploy/${leaseId}`, at: T0, target: 'secretsmanager ci/deploy', spec: spec(s), ttl: 3600, role },
});

const at = (minutes: number, args: Partial<Parameters<typeof scheduleSink>[0]> = {}) =>
  scheduleSink({ spec: spec(), target: 'secretsmanager ci/deploy', status: status('a'), leases: [lease('a')], role: 'R1', now: T0 + minutes * MIN, ...args });

describe('what a sink needs, and when', () => {
  it('a new sink, or one whose lease is gone or expired, needs a credential now', () => {
    expect(at(0, { status: undefined, leases: [] })).toMatchObject({ due: { work: 'issue', reason: 'new sink' }, next: { action: 'issue' } });
    expect(at(0, { leases: [] }).due).toEqual({ work: 'issue', reason: 'its lease is gone' });
    expect(at(61).due?.work).toBe('issue');
  });

  it('is idle until renew_before (default a third of the ttl) before expiry, then rotates when the lease cannot be renewed', () => {
    expect(at(39)).toMatchObject({ due: undefined, next: { action: 'rotate', at: T0 + 40 * MIN }, renewBefore: 1200 });
    expect(at(40).due).toEqual({ work: 'rotate', reason: 'expires in 1200s' });
    expect(at(50, { spec: spec({ renew_before: 300 }) }).due).toBeUndefined();
  });

  it('renews while lease_max leaves room for a whole renewal window, then rotates', () => {
    const roomy = [lease('a', { maxExpiresAt: T0 + 180 * MIN })];
    expect(at(40, { leases: roomy }).due?.work).toBe('renew');
    const late = [lease('a', { expiresAt: T0 + 170 * MIN, maxExpiresAt: T0 + 180 * MIN })];
    expect(at(155, { leases: late }).due?.work).toBe('renew'); // renewed to 180: 25 minutes > 20
    expect(at(161, { leases: late }).due?.work).toBe('rotate'); // 19 minutes left at most
    expect(at(40, { leases: [lease('a', { renewable: false, maxExpiresAt: T0 + 180 * MIN })] }).due?.work).toBe('rotate');
  });

  it('rotates at once when the sink or its role changed in a way the credential carries', () => {
    expect(at(1, { spec: spec({ role: 'other' }) }).due).toEqual({ work: 'rotate', reason: 'role changed' });
    expect(at(1, { spec: spec({ config: { name: 'ci/deploy', kms_key_id: 'alias/x' } }) }).due?.reason).toBe('config changed');
    expect(at(1, { target: 'secretsmanager eu-west-1 ci/deploy' }).due?.reason).toBe('target changed');
    expect(at(1, { role: 'R2' }).due?.reason).toBe('role policy changed');
    // Not carried by the credential: the next rotation uses them.
    expect(at(1, { spec: spec({ grace: 60, renew_before: 600, deletion_policy: 'retain' }) }).due).toBeUndefined();
  });

  it('a replaced lease in its grace is the next thing due when it ends first', () => {
    const retiring = lease('old', { revokeAt: T0 + 5 * MIN });
    const s = at(1, { leases: [lease('a'), retiring] });
    expect(s).toMatchObject({ due: undefined, next: { action: 'revoke-old', at: T0 + 5 * MIN } });
    expect(s.retiring).toEqual([retiring]);
  });

  it('a live lease the sink does not hold is stray', () => {
    const s = at(1, { leases: [lease('a'), lease('b')] });
    expect(s.current?.leaseId).toBe('aws/creds/deploy/a');
    expect(s.stray.map((l) => l.leaseId)).toEqual(['aws/creds/deploy/b']);
  });

  it('rotatingChange names the first field the plan says rotates', () => {
    expect(rotatingChange(spec(), spec({ ttl: 7200 }))).toBe('ttl');
    expect(rotatingChange(spec(), spec({ role_arn: 'arn:aws:iam::123456789012:role/x' }))).toBe('role_arn');
    expect(rotatingChange(spec(), spec({ verify: false }))).toBeUndefined();
  });
});
