/**
 * Story: a sink's role names a group that does not exist. Every attempt to
 * issue fails, and is undone; the sink backs off (1, 2, 4 minutes...) instead
 * of trying, and writing to AWS, on every reconcile and watch wake. `status`
 * shows the failures and the next attempt; a change to the sink is tried at
 * once; once the group exists, the next attempt succeeds and the backoff ends.
 */
import { describe, expect, it } from 'vitest';
import { SINK_RETRY_FIRST_MS } from '../../src/reconcile/lifecycle.js';
import { deployRole, MINUTE_MS, model, sink, eachSinkWorld, type SinkWorld } from '../reconcile/harness.js';
import { credopsUsers } from './helpers.js';

let w: SinkWorld;
eachSinkWorld((world) => (w = world));

const laptop = sink('laptop', 'file', { path: 'aws/credentials', profile: 'deploy' }, { verify: false });
const roles = [deployRole({ iam_groups: ['deployers'] })];
const creates = () => w.aws.calls.filter((c) => c.action === 'CreateUser').length;

describe('a sink whose issuance keeps failing', () => {
  it('backs off, leaves nothing in AWS after any attempt, retries at once on a change, and recovers', async () => {
    const first = await w.reconcile(model('c1', [laptop], { roles }));
    expect(first.sinks[0]).toMatchObject({ outcome: 'failed', attempts: 1 });
    expect(first.sinks[0]!.error).toContain('NoSuchEntity');
    expect(creates()).toBe(1);
    const after1 = (await w.t.state.getSinkStatus('laptop'))!;
    expect(after1).toMatchObject({ failures: 1, nextAttemptAt: after1.lastAttemptAt! + SINK_RETRY_FIRST_MS });

    // Within the backoff: not tried, no AWS call.
    const deferred = await w.reconcile(model('c1', [laptop], { roles }));
    expect(deferred.sinks[0]).toMatchObject({ outcome: 'failed', deferred: true, attempts: 1 });
    expect(deferred.sinks[0]!.reason).toMatch(/^retried in (\d+m)?(\d+s)?, after 1 failed attempt$/);
    expect(creates()).toBe(1);

    // After it: tried again, and the next wait is twice as long.
    w.aws.clock.advance(MINUTE_MS + 1000);
    const second = await w.reconcile(model('c1', [laptop], { roles }));
    expect(second.sinks[0]).toMatchObject({ outcome: 'failed', attempts: 2 });
    expect(creates()).toBe(2);
    const after2 = (await w.t.state.getSinkStatus('laptop'))!;
    expect(after2.nextAttemptAt).toBe(after2.lastAttemptAt! + 2 * MINUTE_MS);

    // Editing the sink is worth a try at once.
    const edited = { ...laptop, ttl: 1800 };
    await w.reconcile(model('c2', [edited], { roles }));
    expect(creates()).toBe(3);

    // Every failed attempt was undone: no user, no journal entry.
    expect(credopsUsers(w.aws)).toEqual([]);
    expect(await w.t.state.listJournal()).toEqual([]);

    // The group is created; when the backoff passes, the sink gets its credential and the backoff ends.
    w.aws.iam.createGroup('deployers');
    w.aws.clock.advance(8 * MINUTE_MS);
    const fixed = await w.reconcile(model('c2', [edited], { roles }));
    expect(fixed.sinks[0]).toMatchObject({ outcome: 'issued' });
    const status = await w.t.state.getSinkStatus('laptop');
    expect(status?.failures).toBeUndefined();
    expect(status?.nextAttemptAt).toBeUndefined();
    expect(status?.lastError).toBeUndefined();
  });
});
