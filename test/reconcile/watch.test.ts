/**
 * Story: `credops watch` runs for weeks. It reconciles a new commit once,
 * wakes for each rotation at its deadline rather than at the next interval,
 * survives a bad commit and an AWS outage, and stops cleanly between steps.
 * The loop is driven here with a fake clock and fake effects.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import type { AppliedSnapshot, DesiredModel, Plan } from '../../src/model/types.js';
import type { ReconcileResult } from '../../src/reconcile/index.js';
import type { SinkReport } from '../../src/reconcile/lifecycle.js';
import {
  MAX_SLEEP_SLICE_MS,
  MIN_SLEEP_MS,
  RETRY_FIRST_MS,
  desiredFromApplied,
  jsonLogLine,
  nextWake,
  watch,
  type IterationOutcome,
  type LogEntry,
  type WatchDeps,
} from '../../src/reconcile/watch.js';
import { HOUR_MOUNT, deployRole, model, sink } from './harness.js';

const S = 1000;
const MIN = 60 * S;
const T0 = Date.UTC(2030, 0, 1);

interface Call {
  at: number;
  commit: string;
  repo: string;
}

/** A world for the loop: a clock that sleeps instantly, a repo whose commit the test sets, a deadline the test moves. */
function fakeWorld(opts: { intervalMs?: number; stopAt?: number } = {}) {
  let now = T0;
  const controller = new AbortController();
  const w = {
    controller,
    now: () => now,
    /** What readRepo returns (or throws) at each call. */
    repo: (): DesiredModel | Error => model('c1', [sink('ci', 'file', { path: '/tmp/x' })]),
    deadline: undefined as number | undefined,
    applied: { commit: undefined, roles: [], sinks: [], mounts: [], serial: 0 } as AppliedSnapshot,
    reconcile: (_m: DesiredModel): Partial<ReconcileResult> | Error => ({}),
    reads: [] as number[],
    reconciles: [] as Call[],
    sleeps: [] as number[],
    logs: [] as LogEntry[],
    outcomes: [] as IterationOutcome[],
    stopAt: opts.stopAt ?? T0 + 10 * MIN,
  };
  const deps: WatchDeps = {
    now: w.now,
    sleep: async (ms) => {
      w.sleeps.push(ms);
      now += ms;
      if (now >= w.stopAt) controller.abort();
    },
    signal: controller.signal,
    intervalMs: opts.intervalMs ?? 10 * MIN,
    readRepo: async () => {
      w.reads.push(now);
      const r = w.repo();
      if (r instanceof Error) throw r;
      return { model: r, warnings: [] };
    },
    applied: async () => w.applied,
    nextDeadline: async () => w.deadline,
    reconcile: async (m) => {
      w.reconciles.push({ at: now, commit: m.commit, repo: m.repo });
      const r = w.reconcile(m);
      if (r instanceof Error) throw r;
      now += 2 * S; // a reconcile takes a while
      return { plan: { summary: { add: 0, change: 0, destroy: 0 } } as Plan, applied: false, sinks: [], revoked: [], failed: [], ...r };
    },
    log: (e) => w.logs.push(e),
    observe: (o) => w.outcomes.push(o),
  };
  return { w, deps };
}

const events = (logs: LogEntry[]) => logs.map((l) => l.event);

describe('watch reconciles on a new commit and at deadlines', () => {
  it('reconciles the first commit at start, then only when the commit changes', async () => {
    const { w, deps } = fakeWorld({ intervalMs: MIN, stopAt: T0 + 5 * MIN });
    w.repo = () => model('c1', []);
    await watch(deps);
    // Read every interval, but reconciled once: nothing changed and nothing was due.
    expect(w.reads.length).toBeGreaterThanOrEqual(5);
    expect(w.reconciles).toEqual([{ at: T0, commit: 'c1', repo: '/repo' }]);

    const second = fakeWorld({ intervalMs: MIN, stopAt: T0 + 5 * MIN });
    second.w.repo = () => model(second.w.now() >= T0 + 2 * MIN ? 'c2' : 'c1', []);
    await watch(second.deps);
    expect(second.w.reconciles.map((c) => [c.commit, (c.at - T0) / S])).toEqual([
      ['c1', 0],
      ['c2', 120],
    ]);
    expect(second.w.outcomes.filter((o) => o.reason).map((o) => o.reason)).toEqual(['start', 'new commit']);
  });

  it('wakes at a rotation deadline instead of waiting for the interval', async () => {
    const { w, deps } = fakeWorld({ intervalMs: 10 * MIN, stopAt: T0 + 4 * MIN });
    // After each reconcile the sink's next renewal is 90 s away.
    w.deadline = T0 + 90 * S;
    w.reconcile = () => {
      w.deadline = w.now() + 2 * S + 90 * S;
      return {};
    };
    await watch(deps);
    expect(w.reconciles.map((c) => (c.at - T0) / S)).toEqual([0, 92, 184]);
    expect(w.outcomes.filter((o) => o.reason).map((o) => o.reason)).toEqual(['start', 'deadline', 'deadline']);
    const waits = w.logs.filter((l) => l.event === 'watch.waiting');
    expect(waits[0]).toMatchObject({ reason: 'deadline', until: new Date(T0 + 92 * S).toISOString() });
  });

  it('does not spin when a deadline stays due: it looks again after MIN_SLEEP_MS, and backs off while sinks fail', async () => {
    const failed: SinkReport = { sink: 'ci', outcome: 'failed', error: 'AccessDenied', retired: [], revoked: [] };
    const { w, deps } = fakeWorld({ intervalMs: 10 * MIN, stopAt: T0 + 2 * MIN });
    w.deadline = 0; // a sink without a credential: due now, and the publish keeps failing
    w.reconcile = () => ({ sinks: [failed] });
    await watch(deps);
    const gaps = w.reconciles.slice(1).map((c, i) => (c.at - w.reconciles[i]!.at - 2 * S) / S);
    expect(gaps.slice(0, 4)).toEqual([5, 10, 20, 40]);
    expect(w.outcomes.every((o) => !o.ok && o.error === 'sink ci: AccessDenied')).toBe(true);
    expect(w.logs.find((l) => l.event === 'reconcile.finished')).toMatchObject({ level: 'warn', sinks_failed: 1 });
  });
});

describe('a failed iteration is logged and retried; the loop keeps running', () => {
  it('a commit that does not validate is logged with its diagnostics; rotations go on from the applied state', async () => {
    const { w, deps } = fakeWorld({ intervalMs: MIN, stopAt: T0 + 6 * MIN });
    const good = model('c1', [sink('ci', 'file', { path: '/tmp/x' })]);
    w.applied = { commit: 'c1', roles: good.roles, sinks: good.sinks, mounts: [HOUR_MOUNT], serial: 3 };
    const bad = new ValidationError([{ file: 'roles/deploy.json', line: 2, column: 22, pointer: '/credential_type', severity: 'error', message: 'must be one of ...' }]);
    w.repo = () => (w.now() < T0 + 1 * MIN ? good : w.now() < T0 + 4 * MIN ? bad : model('c3', good.sinks));
    // The sink's rotation falls while the repo is broken.
    w.deadline = T0 + 150 * S;
    w.reconcile = () => {
      if (w.now() >= T0 + 150 * S) w.deadline = undefined;
      return {};
    };
    await watch(deps);

    expect(w.reconciles.map((c) => [(c.at - T0) / S, c.commit, c.repo])).toEqual([
      [0, 'c1', '/repo'],
      [150, 'c1', '(the applied state)'],
      [270, 'c3', '/repo'],
    ]);
    expect(w.logs.filter((l) => l.event === 'reconcile.started').map((l) => l.from)).toEqual([undefined, 'the applied state', undefined]);
    const failure = w.logs.find((l) => l.event === 'repo.failed');
    expect(failure).toMatchObject({ level: 'error', diagnostics: ['roles/deploy.json:2:22: error: /credential_type must be one of ...'] });
    expect(w.outcomes.map((o) => o.ok)).toContain(false);
    expect(w.outcomes.at(-1)).toMatchObject({ ok: true });
  });

  it('AWS down: the reconcile throws, is retried with backoff, and succeeds when AWS is back', async () => {
    const { w, deps } = fakeWorld({ intervalMs: 10 * MIN, stopAt: T0 + 3 * MIN });
    let attempts = 0;
    w.reconcile = () => (++attempts <= 3 ? new Error('connect ECONNREFUSED 127.0.0.1:443') : {});
    await watch(deps);
    expect(w.reconciles.map((c) => (c.at - T0) / S)).toEqual([0, 5, 15, 35]);
    expect(w.logs.filter((l) => l.event === 'reconcile.failed')).toHaveLength(3);
    expect(w.logs.find((l) => l.event === 'reconcile.failed')).toMatchObject({ level: 'error', error: 'connect ECONNREFUSED 127.0.0.1:443' });
    expect(w.outcomes.map((o) => o.ok)).toEqual([false, false, false, true]);
    expect(w.outcomes[3]).toMatchObject({ reason: 'start', commit: 'c1' });
  });

  it('an unreadable repo before anything was applied leaves nothing to do, and is retried at the interval', async () => {
    const { w, deps } = fakeWorld({ intervalMs: MIN, stopAt: T0 + 3 * MIN });
    w.repo = () => new Error('cannot read git repo https://***@example.com/repo.git: could not resolve host');
    await watch(deps);
    expect(w.reconciles).toEqual([]);
    expect(w.reads.map((t) => (t - T0) / S)).toEqual([0, 5, 15, 35, 75, 135]);
    expect(w.outcomes.every((o) => !o.ok)).toBe(true);
  });
});

describe('stopping', () => {
  it('a stop during a reconcile lets it finish, then the loop ends without another step', async () => {
    const { w, deps } = fakeWorld({ stopAt: Infinity });
    w.reconcile = () => {
      w.controller.abort(); // SIGTERM arrives mid-reconcile
      return {};
    };
    await watch(deps);
    expect(w.reconciles).toHaveLength(1);
    expect(w.outcomes).toEqual([expect.objectContaining({ ok: true, reason: 'start' })]);
    expect(w.sleeps).toEqual([]);
    expect(events(w.logs).slice(-2)).toEqual(['reconcile.finished', 'watch.stopped']);
  });

  it('a stop during a sleep ends it at once', async () => {
    const { w, deps } = fakeWorld({ stopAt: Infinity });
    deps.sleep = (_ms, signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    const done = watch(deps);
    await new Promise((r) => setTimeout(r, 10));
    expect(w.reconciles).toHaveLength(1);
    w.controller.abort();
    await done;
    expect(events(w.logs).at(-1)).toBe('watch.stopped');
  });

  it('sleeps in slices, so that a machine waking from suspend does not miss a deadline', async () => {
    const { w, deps } = fakeWorld({ intervalMs: 60 * MIN, stopAt: T0 + 3 * MIN });
    await watch(deps);
    expect(Math.max(...w.sleeps)).toBe(MAX_SLEEP_SLICE_MS);
  });
});

describe('pure parts', () => {
  it('nextWake: the earlier of interval and deadline, never sooner than the floor', () => {
    const base = { now: T0, lastRunAt: T0, intervalMs: 10 * MIN, failures: 0 };
    expect(nextWake(base)).toEqual({ at: T0 + 10 * MIN, reason: 'interval' });
    expect(nextWake({ ...base, deadline: T0 + 90 * S })).toEqual({ at: T0 + 90 * S, reason: 'deadline' });
    expect(nextWake({ ...base, deadline: T0 - 5 * S })).toEqual({ at: T0 + MIN_SLEEP_MS, reason: 'deadline' });
    expect(nextWake({ ...base, deadline: 0, failures: 2 })).toEqual({ at: T0 + 2 * RETRY_FIRST_MS, reason: 'retry' });
    expect(nextWake({ ...base, failures: 30 })).toEqual({ at: T0 + 10 * MIN, reason: 'interval' });
  });

  it('desiredFromApplied: nothing applied, nothing to keep alive', () => {
    expect(desiredFromApplied({ roles: [], sinks: [], mounts: [], serial: 0 })).toBeUndefined();
    const m = desiredFromApplied({ commit: 'abc', roles: [deployRole()], sinks: [], mounts: [HOUR_MOUNT], serial: 1 })!;
    expect(m).toMatchObject({ commit: 'abc', config: { mounts: { aws: HOUR_MOUNT } } });
  });

  it('jsonLogLine: one JSON object per line, time first', () => {
    const line = jsonLogLine({ level: 'info', event: 'sink.rotated', sink: 'ci' }, T0);
    expect(line).toBe('{"time":"2030-01-01T00:00:00.000Z","level":"info","event":"sink.rotated","sink":"ci"}\n');
  });
});
