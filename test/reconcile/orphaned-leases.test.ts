/**
 * A lease of a role the repo no longer has is revoked by the next reconcile,
 * even when no plan deleted that role: credops server issues from a copy of the
 * applied roles up to 2 s old, so a replica may issue for a role in the seconds
 * after the apply that removed it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit.js';
import { Engine } from '../../src/engine/index.js';
import { credopsUsers, role, S3_READ } from '../integration/helpers.js';
import { deployRole, model, sinkWorld, type SinkWorld } from './harness.js';

let w: SinkWorld;
beforeEach(async () => {
  w = await sinkWorld();
});
afterEach(async () => w.close());

describe('a lease of a role the repo no longer has', () => {
  it('is revoked by the next reconcile, in AWS too, though the plan has nothing to delete', async () => {
    const gone = role('gone', { credential_types: ['iam_user'], policy_document: S3_READ });
    await w.reconcile(model('c1', [], { roles: [deployRole(), gone] }));
    const stale = await w.t.state.getApplied();
    await w.reconcile(model('c2', [], { roles: [deployRole()] }));

    // A replica whose copy of the applied roles predates c2.
    const replica = new Engine({ state: w.t.state, clients: w.clients, clock: w.aws.clock, audit: new AuditLog(undefined), applied: async () => stale });
    const late = await replica.issue({ mount: 'aws', role: 'gone', path: 'creds' });
    expect(credopsUsers(w.aws)).toHaveLength(1);

    const result = await w.reconcile(model('c2', [], { roles: [deployRole()] }));
    expect(result.plan.summary).toEqual({ add: 0, change: 0, destroy: 0 });
    expect(result.revoked).toEqual([late.lease.leaseId]);
    expect(credopsUsers(w.aws)).toEqual([]);
    expect(await w.t.state.listLeases()).toEqual([]);
  });
});
