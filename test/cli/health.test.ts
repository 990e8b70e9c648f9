/**
 * Story: an operator runs `credops watch --health-port 9100` in Kubernetes,
 * points the liveness probe at /healthz and Prometheus at /metrics, and alerts
 * on failing reconciles and on a credential about to expire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/model/types.js';
import { HEALTH_MIN_GRACE_MS, METRICS_CONTENT_TYPE, WatchHealth, startHealthServer, type HealthServer } from '../../src/cli/health.js';
import type { IterationOutcome } from '../../src/reconcile/watch.js';

const S = 1000;
const MIN = 60 * S;
const T0 = Date.UTC(2030, 0, 1);
const INTERVAL = MIN;

function lease(id: string, expiresAt: number, revokeAt?: number): Lease {
  return {
    leaseId: `aws/creds/deploy/${id}`,
    mount: 'aws',
    role: 'deploy',
    credentialType: 'iam_user',
    path: 'creds',
    issuedAt: T0 - MIN,
    expiresAt,
    maxExpiresAt: expiresAt,
    renewable: false,
    resources: {},
    ...(revokeAt !== undefined ? { revokeAt } : {}),
  };
}

const ok = (at: number, reconcileMs?: number): IterationOutcome => ({
  startedAt: at - (reconcileMs ?? 0),
  finishedAt: at,
  ok: true,
  commit: 'abc123',
  ...(reconcileMs !== undefined ? { reason: 'deadline' as const, reconcileMs } : {}),
});
const failed = (at: number, error: string): IterationOutcome => ({ startedAt: at, finishedAt: at, ok: false, error, reconcileMs: 500 });

describe('/healthz status', () => {
  it('starting, then ok; a failure is tolerated for the grace, then reported; a success clears it', () => {
    const h = new WatchHealth({ startedAt: T0, intervalMs: INTERVAL });
    expect(h.report(T0 + S)).toMatchObject({ healthy: true, body: { status: 'starting', last_success_at: null } });
    expect(h.report(T0 + HEALTH_MIN_GRACE_MS + S)).toMatchObject({ healthy: false, body: { status: 'stalled' } });

    h.record(ok(T0 + 2 * S, 1500));
    expect(h.report(T0 + 3 * S)).toMatchObject({ healthy: true, body: { status: 'ok', commit: 'abc123', consecutive_failures: 0 } });

    h.record(failed(T0 + MIN, 'AWS Throttling: Rate exceeded'));
    expect(h.report(T0 + 2 * MIN)).toMatchObject({
      healthy: true,
      body: { status: 'degraded', consecutive_failures: 1, last_error: 'AWS Throttling: Rate exceeded', last_success_at: new Date(T0 + 2 * S).toISOString() },
    });
    // The grace is counted from the last success.
    expect(h.report(T0 + 2 * S + HEALTH_MIN_GRACE_MS + S)).toMatchObject({ healthy: false, body: { status: 'failing' } });

    h.record(ok(T0 + 6 * MIN));
    expect(h.report(T0 + 6 * MIN)).toMatchObject({ healthy: true, body: { status: 'ok', last_error: null } });
  });

  it('a loop that stopped iterating (stuck in a call) is reported even after a success', () => {
    const h = new WatchHealth({ startedAt: T0, intervalMs: INTERVAL, graceMs: 2 * MIN });
    h.record(ok(T0 + S));
    expect(h.report(T0 + S + INTERVAL + 2 * MIN).healthy).toBe(true);
    expect(h.report(T0 + S + INTERVAL + 2 * MIN + S)).toMatchObject({ healthy: false, body: { status: 'stalled' } });
  });
});

describe('/metrics', () => {
  it('counts leases by state, the time to the next expiry, errors, reconcile durations and the last success', async () => {
    const h = new WatchHealth({ startedAt: T0, intervalMs: INTERVAL });
    h.record(ok(T0 + 10 * S, 1500));
    h.record(failed(T0 + 20 * S, 'boom'));
    h.record(ok(T0 + 30 * S, 250));
    const now = T0 + 40 * S;
    const leases = [
      lease('a', now + 90 * S), // active
      lease('b', now + 3600 * S), // active
      lease('c', now + 80 * S, now + 20 * S), // replaced, in its grace
      lease('d', now - S), // expired, not yet tidied
    ];
    const text = await h.metrics(now, leases);
    expect(text).toContain('# TYPE credops_leases gauge\ncredops_leases{state="active"} 2\ncredops_leases{state="revoke_pending"} 2\n');
    expect(text).toContain('# TYPE credops_seconds_to_next_expiry gauge\ncredops_seconds_to_next_expiry 90\n');
    expect(text).toContain('# TYPE credops_reconcile_errors_total counter\ncredops_reconcile_errors_total 1\n');
    // A histogram: quantiles can be computed from its buckets, across replicas too.
    expect(text).toContain('# TYPE credops_reconcile_duration_seconds histogram\n');
    expect(text).toContain('credops_reconcile_duration_seconds_bucket{le="0.25"} 1\n');
    expect(text).toContain('credops_reconcile_duration_seconds_bucket{le="2.5"} 3\n');
    expect(text).toContain('credops_reconcile_duration_seconds_sum 2.25\ncredops_reconcile_duration_seconds_count 3\n');
    expect(text).toContain(`credops_last_success_timestamp_seconds ${(T0 + 30 * S) / 1000}\n`);
    // Every sample line is NAME{labels} VALUE; every metric has HELP and TYPE.
    for (const line of text.trim().split('\n').filter((l) => l !== '')) expect(line).toMatch(/^(# (HELP|TYPE) credops_\w+ .+|credops_\w+(\{(state="\w+"|le="[\d.+Inf]+")\})? [\d.]+)$/);
  });

  it('no active lease: no next-expiry sample; no success yet: last success 0', async () => {
    const h = new WatchHealth({ startedAt: T0, intervalMs: INTERVAL });
    const text = await h.metrics(T0, [lease('c', T0 + 80 * S, T0 + 20 * S)]);
    expect(text).not.toMatch(/^credops_seconds_to_next_expiry /m);
    expect(text).toContain('credops_leases{state="active"} 0\n');
    expect(text).toContain('credops_last_success_timestamp_seconds 0\n');
  });
});

describe('the HTTP server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves /healthz as JSON (200, then 503), /metrics as Prometheus text, and 404 elsewhere', async () => {
    let now = T0 + S;
    const h = new WatchHealth({ startedAt: T0, intervalMs: INTERVAL, graceMs: MIN });
    let stateReadable = true;
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      health: h,
      leases: async () => {
        if (!stateReadable) throw new Error('SQLITE_BUSY');
        return [lease('a', now + 100 * S)];
      },
      now: () => now,
    });
    const base = `http://127.0.0.1:${server.port}`;

    h.record(ok(T0 + S, 100));
    let res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({ status: 'ok', commit: 'abc123' });

    h.record(failed(T0 + 10 * S, 'AWS down'));
    now = T0 + 2 * MIN;
    res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'failing', last_error: 'AWS down', consecutive_failures: 1 });

    res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(METRICS_CONTENT_TYPE);
    const text = await res.text();
    expect(text).toContain('credops_leases{state="active"} 1\n');
    expect(text).toContain('credops_seconds_to_next_expiry 100\n');
    expect(text).toContain('credops_reconcile_errors_total 1\n');

    // The state is busy: the process metrics are still served.
    stateReadable = false;
    const partial = await (await fetch(`${base}/metrics`)).text();
    expect(partial).not.toContain('credops_leases{');
    expect(partial).toContain('credops_reconcile_errors_total 1\n');

    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
