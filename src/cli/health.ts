import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Lease } from '../model/types.js';
import type { IterationOutcome } from '../reconcile/watch.js';

/**
 * What `credops watch --health-port` serves: /healthz for a liveness or
 * readiness probe, /metrics in the Prometheus text format. Neither ever
 * carries a secret: only counts, times, commit ids and error messages (which
 * by DESIGN invariant 2 hold no secret either).
 */

/**
 * How long a failing watch still answers 200: a short AWS outage or one bad
 * commit should not get the pod restarted, a lasting one should page. Twice
 * the interval, so that a failure is retried at least once before it counts.
 */
export const HEALTH_MIN_GRACE_MS = 5 * 60_000;
export function healthGraceMs(intervalMs: number): number {
  return Math.max(HEALTH_MIN_GRACE_MS, 2 * intervalMs);
}

export type HealthStatus = 'starting' | 'ok' | 'degraded' | 'failing' | 'stalled';

export interface HealthReport {
  healthy: boolean;
  body: {
    status: HealthStatus;
    started_at: string;
    last_iteration_at: string | null;
    last_success_at: string | null;
    consecutive_failures: number;
    last_error: string | null;
    commit: string | null;
  };
}

/** The watch loop's record of itself, fed one IterationOutcome at a time. */
export class WatchHealth {
  private lastFinishedAt: number | undefined;
  private lastSuccessAt: number | undefined;
  private lastError: string | undefined;
  private commit: string | undefined;
  private failures = 0;
  /** This watch's own metrics; each WatchHealth has its registry (never prom-client's global one). */
  private readonly registry = new Registry();
  private readonly errors = new Counter({
    name: 'credops_reconcile_errors_total',
    help: 'Watch iterations that failed: repo unreadable or invalid, reconcile, sink or revocation failed.',
    registers: [this.registry],
  });
  private readonly durations = new Histogram({
    name: 'credops_reconcile_duration_seconds',
    help: 'Duration of the reconciles run by watch.',
    // From a no-change pass (well under a second) to a bulk issuance against a slow IAM.
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  private readonly lastSuccess = new Gauge({
    name: 'credops_last_success_timestamp_seconds',
    help: 'Unix time of the last successful watch iteration; 0 before the first.',
    registers: [this.registry],
  });

  constructor(private readonly opts: { startedAt: number; intervalMs: number; graceMs?: number }) {}

  private get graceMs(): number {
    return this.opts.graceMs ?? healthGraceMs(this.opts.intervalMs);
  }

  record(o: IterationOutcome): void {
    this.lastFinishedAt = o.finishedAt;
    if (o.commit !== undefined) this.commit = o.commit;
    if (o.reconcileMs !== undefined) this.durations.observe(o.reconcileMs / 1000);
    if (o.ok) {
      this.lastSuccessAt = o.finishedAt;
      this.lastError = undefined;
      this.failures = 0;
    } else {
      this.lastError = o.error;
      this.failures++;
      this.errors.inc();
    }
  }

  report(now: number): HealthReport {
    const { startedAt, intervalMs } = this.opts;
    const grace = this.graceMs;
    let status: HealthStatus;
    if (this.lastFinishedAt === undefined) {
      // The first fetch and reconcile (a git clone, many sinks) may take a while.
      status = now - startedAt <= grace ? 'starting' : 'stalled';
    } else if (this.failures === 0) {
      // The loop runs at least once per interval; longer than that plus the grace and it is stuck.
      status = now - this.lastFinishedAt <= intervalMs + grace ? 'ok' : 'stalled';
    } else {
      status = now - (this.lastSuccessAt ?? startedAt) <= grace ? 'degraded' : 'failing';
    }
    const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
    return {
      healthy: status === 'starting' || status === 'ok' || status === 'degraded',
      body: {
        status,
        started_at: new Date(startedAt).toISOString(),
        last_iteration_at: iso(this.lastFinishedAt),
        last_success_at: iso(this.lastSuccessAt),
        consecutive_failures: this.failures,
        last_error: this.lastError ?? null,
        commit: this.commit ?? null,
      },
    };
  }

  /**
   * Prometheus text exposition (prom-client). `leases` undefined: the state
   * could not be read; the lease metrics are left out, the process's own served.
   */
  async metrics(now: number, leases: Lease[] | undefined): Promise<string> {
    this.lastSuccess.set(this.lastSuccessAt === undefined ? 0 : this.lastSuccessAt / 1000);
    if (!leases) return this.registry.metrics();
    // Lease metrics describe the state as it is at this scrape (other credops runs included):
    // built afresh each time, so a metric with no value (no active lease) is absent, not stale.
    const scrape = new Registry();
    const active = leases.filter((l) => isActive(l, now));
    const count = new Gauge({
      name: 'credops_leases',
      help: 'Leases in the state: active, or revoke_pending (replaced and in their grace, or expired, until revoked).',
      labelNames: ['state'],
      registers: [scrape],
    });
    count.set({ state: 'active' }, active.length);
    count.set({ state: 'revoke_pending' }, leases.length - active.length);
    if (active.length) {
      const next = Math.min(...active.map((l) => l.expiresAt));
      new Gauge({ name: 'credops_seconds_to_next_expiry', help: 'Seconds until the earliest active lease expires; absent when there is none.', registers: [scrape] }).set(
        Math.max(0, (next - now) / 1000),
      );
    }
    return Registry.merge([scrape, this.registry]).metrics();
  }
}

function isActive(lease: Lease, now: number): boolean {
  return lease.revokeAt === undefined && lease.expiresAt > now;
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: {
  host: string;
  port: number;
  health: WatchHealth;
  /** Read at every scrape, so that the counts include what other credops runs did. */
  leases: () => Promise<Lease[]>;
  now: () => number;
}): Promise<HealthServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const report = opts.health.report(opts.now());
      res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(report.body)}\n`);
      return;
    }
    if (path === '/metrics') {
      const leases = await opts.leases().catch(() => undefined);
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      const text = await opts.health.metrics(opts.now(), leases);
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive connections of a scraper would otherwise hold the process open after SIGTERM.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
