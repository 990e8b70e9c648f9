import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/model/types.js';
import type { ReconcileEvent, ReconcileResult } from '../../src/reconcile/index.js';
import type { SinkReport } from '../../src/reconcile/lifecycle.js';
import { PROGRESS_THRESHOLD, progressReporter, summaryLine } from '../../src/cli/progress.js';

function capture(isTTY: boolean) {
  let text = '';
  const reporter = progressReporter({ write: (s) => (text += s), isTTY, columns: 60 });
  return { reporter, text: () => text };
}

const revokes = (total: number, error?: (i: number) => string | undefined): ReconcileEvent[] =>
  Array.from({ length: total }, (_, i) => ({ kind: 'revoke', leaseId: `aws/creds/r/${i + 1}`, reason: 'expired', done: i + 1, total, error: error?.(i + 1) }));

const sinkEvents = (total: number): ReconcileEvent[] =>
  Array.from({ length: total }, (_, i) => {
    const base = { kind: 'sink' as const, sink: `s${i + 1}`, work: 'issue' as const, reason: 'new sink', done: i + 1, total };
    const report: SinkReport = { sink: `s${i + 1}`, outcome: 'issued', leaseId: `aws/creds/r/L${i + 1}`, retired: [], revoked: [] };
    return [{ ...base, phase: 'start' as const }, { ...base, phase: 'done' as const, report }];
  }).flat();

describe('reconcile progress', () => {
  it(`lists up to ${PROGRESS_THRESHOLD} credentials one line each, on a terminal too`, () => {
    const { reporter, text } = capture(true);
    for (const e of revokes(PROGRESS_THRESHOLD)) reporter.log(e);
    expect(text()).toBe(revokes(PROGRESS_THRESHOLD).map((_, i) => `[${i + 1}/5] revoke aws/creds/r/${i + 1} (expired)\n`).join(''));
  });

  it('beyond that, a terminal gets one line rewritten in place, cleared at the end; failures stay on screen', () => {
    const { reporter, text } = capture(true);
    for (const e of revokes(8, (i) => (i === 3 ? 'AccessDenied' : undefined))) reporter.log(e);
    reporter.finish();
    const out = text();
    expect(out).not.toMatch(/\[\d\/8\] revoke aws\/creds\/r\/[^3] \(expired\)\n/);
    expect(out).toContain('\r\x1b[2K[1/8] revoke aws/creds/r/1 (expired)');
    expect(out).toContain('\r\x1b[2K[8/8] revoke aws/creds/r/8 (expired)');
    expect(out).toContain('[3/8] revoke aws/creds/r/3 (expired): FAILED: AccessDenied\n');
    expect(out.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('shows the sink being worked on, truncated to the terminal width', () => {
    const { reporter, text } = capture(true);
    for (const e of sinkEvents(6)) reporter.log(e);
    expect(text()).toContain('\r\x1b[2K[6/6] sink s6: issue (new sink)…');
    for (const line of text().split('\r\x1b[2K')) expect(line.length).toBeLessThanOrEqual(59);
  });

  it('a log (not a terminal) gets one line per item however many there are', () => {
    const { reporter, text } = capture(false);
    for (const e of sinkEvents(7)) reporter.log(e);
    expect(text().split('\n').filter(Boolean)).toHaveLength(7);
    expect(text()).toContain('[7/7] sink s7: issue (new sink): issued aws/creds/r/L7\n');
    expect(text()).not.toContain('\r');
  });

  it('ends with a one-line summary', () => {
    const plan = { summary: { add: 1, change: 0, destroy: 0 } } as Plan;
    const report = (outcome: SinkReport['outcome']): SinkReport => ({ sink: 'x', outcome, retired: [], revoked: [] });
    const result: ReconcileResult = {
      plan,
      applied: true,
      sinks: [report('issued'), report('issued'), report('rotated'), report('unchanged')],
      revoked: ['a', 'b', 'c'],
      failed: [],
    };
    expect(summaryLine(result)).toBe('Reconcile complete: 1 added, 0 changed, 0 destroyed; sinks: 2 issued, 1 rotated, 0 failed; 3 leases revoked.\n');
    expect(summaryLine({ ...result, sinks: [report('renewed'), report('failed')], revoked: ['a'], failed: [{ leaseId: 'b', error: 'x' }] })).toBe(
      'Reconcile complete: 1 added, 0 changed, 0 destroyed; sinks: 0 issued, 0 rotated, 1 renewed, 1 failed; 1 lease revoked, 1 revocation failed.\n',
    );
  });
});
