/**
 * Story: a 20-sink reconcile against an endpoint that, now and then, applies
 * a create and loses its answer (a 503 from a load balancer, a reset
 * connection). The SDK retries; credops resolves each ambiguous create by
 * reading what exists, so afterwards IAM holds exactly the users and keys the
 * state knows.
 */
import { describe, expect, it } from 'vitest';
import { model, sink, eachSinkWorld, type SinkWorld } from '../reconcile/harness.js';
import { credopsUsers } from './helpers.js';

let w: SinkWorld;
eachSinkWorld((world) => (w = world));

describe('lost answers during a 20-sink reconcile', () => {
  it('leave exactly the users and keys the state knows', async () => {
    const sinks = Array.from({ length: 20 }, (_, i) => sink(`s${String(i).padStart(2, '0')}`, 'file', { path: `out/s${i}.json`, format: 'json' }, { verify: false }));
    w.aws.faults.loseResponse('CreateUser', 'ServiceUnavailable', 3);
    // Two in a row on one issuance fill the new user's two key slots: the third attempt hits LimitExceeded.
    w.aws.faults.loseResponse('CreateAccessKey', 'reset', 1);
    w.aws.faults.loseResponse('CreateAccessKey', 'ServiceUnavailable', 1);
    w.aws.faults.loseResponse('PutUserPolicy', 'ServiceUnavailable', 2);

    const result = await w.reconcile(model('c1', sinks));
    expect(result.sinks.map((s) => s.error ?? s.outcome)).toEqual(sinks.map(() => 'issued'));

    const leases = await w.t.state.listLeases();
    expect(leases).toHaveLength(20);
    const users = credopsUsers(w.aws);
    expect(users.map((u) => u.userName).sort()).toEqual(leases.map((l) => l.resources.userName).sort());
    const keys = users.flatMap((u) => u.accessKeys.map((k) => k.accessKeyId)).sort();
    expect(keys).toEqual(leases.map((l) => l.resources.accessKeyId).sort());
    expect(await w.t.state.listJournal()).toEqual([]);
    // The faults did happen: some creates were answered 503 or reset after being applied.
    expect(w.aws.calls.filter((c) => c.code === 'reset' || (c.status === 503 && /Create|Put/.test(c.action))).length).toBe(7);
  });
});
