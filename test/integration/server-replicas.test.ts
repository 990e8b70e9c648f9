/**
 * Replicas of credops server on one DynamoDB state (issue #13): both answer
 * the API, only the one holding the state's lock reconciles, and when it is
 * killed the other takes the reconcile loop over once the lock expires.
 */
import { describe, expect, it } from 'vitest';
import { serverWorld, vault, type ServerProcess } from './server-helpers.js';

const w = serverWorld();

function reconciles(s: ServerProcess): number {
  return s.events().filter((e) => e.event === 'reconcile.started').length;
}

describe('two credops server processes on one state', () => {
  it('both answer, only one reconciles, and killing it lets the other take over', async () => {
    const a = await w.server(['--standby-check', '1s', '--interval', '1s']);
    await a.waitFor('server.reconciling');
    const b = await w.server(['--standby-check', '1s', '--interval', '1s']);
    await a.waitFor('reconcile.finished');
    // A few intervals: a reconciles each time something is due; b never does.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(b.events().some((e) => e.event === 'server.reconciling')).toBe(false);
    expect(reconciles(b)).toBe(0);

    expect((await vault(a.url, 'GET', 'sys/health')).status).toBe(200);
    const standby = await vault(b.url, 'GET', 'sys/health');
    expect(standby).toMatchObject({ status: 429, body: { standby: true, sealed: false, initialized: true } });
    expect((await vault(b.url, 'GET', 'sys/health?standbyok=true')).status).toBe(200);

    // A token from one replica works at the other: both read the shared state.
    const token = await w.tokenFor(a);
    const fromA = await vault(a.url, 'GET', 'aws/creds/dev-app', { token });
    const fromB = await vault(b.url, 'GET', 'aws/creds/dev-app', { token });
    expect([fromA.status, fromB.status]).toEqual([200, 200]);
    expect((await vault(b.url, 'PUT', 'sys/leases/renew', { token, body: { lease_id: fromA.body!.lease_id } })).status).toBe(200);

    a.child.kill('SIGKILL');
    await a.exited;
    await b.waitFor('server.reconciling', undefined, 20_000);
    await b.waitFor('reconcile.finished', undefined, 20_000);
    expect((await vault(b.url, 'GET', 'sys/health')).status).toBe(200);
    expect((await vault(b.url, 'GET', 'aws/creds/dev-app', { token })).status).toBe(200);
  });

  it('drains on SIGTERM: the request in flight is answered, then the process exits 0', async () => {
    const s = await w.ready();
    const token = await w.tokenFor(s);
    const release = w.aws.faults.hold('CreateAccessKey');
    const inFlight = vault(s.url, 'GET', 'aws/creds/dev-app', { token });
    await s.waitFor('reconcile.finished');
    await new Promise((r) => setTimeout(r, 500));
    s.child.kill('SIGTERM');
    await s.waitFor('server.draining');
    release();
    expect((await inFlight).status).toBe(200);
    expect(await s.exited).toBe(0);
  });
});
