import type { ReconcileEvent, ReconcileResult } from '../reconcile/index.js';

/**
 * Up to this many credentials issued or revoked in one step are listed one
 * line each; beyond it, a terminal gets one progress line rewritten in place
 * (a few lines read better than a counter; hundreds of lines bury the errors).
 */
export const PROGRESS_THRESHOLD = 5;

const DEFAULT_COLUMNS = 80;
const CLEAR_LINE = '\r\x1b[2K';

export interface ProgressOutput {
  write(text: string): void;
  /** A terminal: the progress line may be rewritten with \r. */
  isTTY: boolean;
  columns?: number;
}

export interface ProgressReporter {
  log(event: ReconcileEvent): void;
  /** Clears a progress line left on the terminal. */
  finish(): void;
}

/** Turns reconcile events into lines (a log, a CI job) or one live line (a terminal). Never sees a secret. */
export function progressReporter(out: ProgressOutput): ProgressReporter {
  let showing = false;
  const width = Math.max(20, (out.columns ?? DEFAULT_COLUMNS) - 1);
  const clear = () => {
    if (showing) out.write(CLEAR_LINE);
    showing = false;
  };
  const line = (text: string) => {
    clear();
    out.write(`${text}\n`);
  };
  const live = (total: number) => out.isTTY && total > PROGRESS_THRESHOLD;
  const bar = (done: number, total: number, label: string) => {
    const text = `[${done}/${total}] ${label}`;
    out.write(`${CLEAR_LINE}${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    showing = true;
  };

  return {
    log(e) {
      switch (e.kind) {
        case 'recovered':
          return line(`Recovered the journal: ${e.rolledBack} half-done issuances rolled back, ${e.completed} completed.`);
        case 'applied':
          return line(`Applied commit ${e.commit}: ${e.add} added, ${e.change} changed, ${e.destroy} destroyed.`);
        case 'no-changes':
          return line(`No changes. The state matches the repo at ${e.commit}.`);
        case 'root-rotated':
          return line(
            e.error
              ? `rotate the root key of mount ${e.mount} (rotation due): FAILED: ${e.error}`
              : `Rotated the root key of mount ${e.mount} (rotation due): ${e.oldAccessKeyId} replaced by ${e.accessKeyId}.`,
          );
        case 'revoke': {
          const text = `revoke ${e.leaseId} (${e.reason})`;
          if (e.error) return line(`[${e.done}/${e.total}] ${text}: FAILED: ${e.error}`);
          if (!live(e.total)) return line(`[${e.done}/${e.total}] ${text}`);
          bar(e.done, e.total, text);
          if (e.done === e.total) clear();
          return;
        }
        case 'static-role': {
          const r = e.report;
          const what = `static role ${r.mount}/${r.name} (user ${r.username})`;
          if (r.outcome === 'failed') return line(`${what}: FAILED: ${r.error ?? 'unknown error'}`);
          const deleted = r.deleted.length ? `; deleted ${r.deleted.join(', ')}` : '';
          const sinks = r.published.length ? `; published to ${r.published.join(', ')}` : '';
          if (r.outcome === 'removed') return line(`${what}: no longer managed (removed from the repo)${deleted}; the user is kept`);
          return line(`${what}: ${r.outcome} ${r.accessKeyId ?? ''} (${r.reason ?? ''})${sinks}${deleted}`);
        }
        case 'repair': {
          const text = `[${e.done}/${e.total}] repair ${e.leaseId}: ${e.detail}`;
          return line(e.error ? `${text}: FAILED: ${e.error}` : text);
        }
        case 'sink': {
          const what = `sink ${e.sink}: ${e.work} (${e.reason})`;
          if (e.phase === 'start') {
            if (live(e.total)) bar(e.done, e.total, `${what}…`);
            return;
          }
          const r = e.report;
          if (r?.outcome === 'failed') return line(`[${e.done}/${e.total}] ${what}: FAILED: ${r.error ?? 'unknown error'}`);
          const detail = r ? `${r.outcome}${r.leaseId ? ` ${r.leaseId}` : ''}${r.target ? ` -> ${r.target}` : ''}${r.error ? `; warning: ${r.error}` : ''}` : '';
          if (r?.error || !live(e.total)) return line(`[${e.done}/${e.total}] ${what}: ${detail}`);
          if (e.done === e.total) clear();
          return;
        }
      }
    },
    finish: clear,
  };
}

export interface ReconcileCounts {
  issued: number;
  rotated: number;
  renewed: number;
  removed: number;
  failed: number;
  revoked: number;
  revokeFailed: number;
}

export function reconcileCounts(r: ReconcileResult): ReconcileCounts {
  const count = (outcome: string) => r.sinks.filter((s) => s.outcome === outcome).length;
  return {
    issued: count('issued'),
    rotated: count('rotated'),
    renewed: count('renewed'),
    removed: count('removed'),
    failed: count('failed'),
    revoked: r.revoked.length,
    revokeFailed: r.failed.length,
  };
}

/** `Reconcile complete: 1 added, 0 changed, 0 destroyed; sinks: 2 issued, 1 rotated, 0 failed; 3 leases revoked.` */
export function summaryLine(r: ReconcileResult): string {
  const s = r.plan.summary;
  const c = reconcileCounts(r);
  const sinks = [
    `${c.issued} issued`,
    `${c.rotated} rotated`,
    ...(c.renewed ? [`${c.renewed} renewed`] : []),
    ...(c.removed ? [`${c.removed} removed`] : []),
    `${c.failed} failed`,
  ];
  const statics = r.staticRoles ?? [];
  const rotated = statics.filter((x) => x.outcome === 'rotated').length;
  const staticFailed = statics.filter((x) => x.outcome === 'failed').length;
  const staticPart = statics.length ? `static roles: ${rotated} rotated, ${staticFailed} failed; ` : '';
  return (
    `Reconcile complete: ${s.add} added, ${s.change} changed, ${s.destroy} destroyed; sinks: ${sinks.join(', ')}; ${staticPart}` +
    `${c.revoked} lease${c.revoked === 1 ? '' : 's'} revoked${c.revokeFailed ? `, ${c.revokeFailed} revocation${c.revokeFailed === 1 ? '' : 's'} failed` : ''}.\n`
  );
}
