/**
 * Injected trouble: throttling, 5xx and latency at a rate, or a given error on the next calls
 * of an action. Decisions come from a seeded PRNG, so a failing run replays exactly.
 */
import { seededRandom } from './clock.js';
import { AwsError, statusForCode } from './errors.js';

export interface FaultSettings {
  /** 0..1: share of matching calls answered with the service's throttling error. */
  throttleRate?: number;
  /** 0..1: share of matching calls answered with 500 InternalFailure or 503 ServiceUnavailable. */
  serverErrorRate?: number;
  /** Added before every matching call is answered. */
  latencyMs?: number;
  /**
   * Global only: an access key created less than this long ago (endpoint clock) is still refused
   * with InvalidClientTokenId, as IAM's eventual consistency does right after CreateAccessKey.
   */
  keyPropagationMs?: number;
  /**
   * Global only: a user created less than this long ago (endpoint clock) is answered
   * NoSuchEntity by every call that names it, as IAM's eventual consistency can.
   */
  userPropagationMs?: number;
  /**
   * Limit these knobs to actions: `CreateUser` or `iam:CreateUser`. Without it the knobs are the
   * global ones; a per-action setting overrides the global one for that action.
   */
  actions?: string[];
}

export interface FaultControls {
  set(f: FaultSettings): void;
  /** The next `times` (default 1) calls of `action` (`*` for any) fail with `code`. */
  failNext(action: string, code: string, times?: number): void;
  /**
   * Calls of `action` wait, unanswered, until the returned function is called
   * (or clear()): a test that needs a call in flight gets one, however slow the machine.
   */
  hold(action: string): () => void;
  /**
   * The next `times` (default 1) calls of `action` are carried out, and then
   * their answer is lost: replaced by `code`'s error (a 5xx, as a load balancer
   * answers when the backend timed out after committing), or with 'reset' the
   * connection is dropped before any answer. The caller cannot tell whether it
   * happened; AWS did it.
   */
  loseResponse(action: string, code?: string, times?: number): void;
  /** The next `times` calls of `action` get an HTML page with `status` instead of AWS's answer (a proxy or captive portal). */
  answerHtml(action: string, status: number, times?: number): void;
  clear(): void;
}

/** What happens to a call's answer after the action ran. */
export type AfterApply = { kind: 'error'; error: AwsError } | { kind: 'reset' } | undefined;

type Knobs = Omit<FaultSettings, 'actions'>;

const matches = (pattern: string, service: string, action: string): boolean =>
  pattern === '*' || pattern === action || pattern === `${service}:${action}`;

/** The first queued fault for this call, its count taken down by one. */
function take<T extends { action: string; times: number }>(queue: T[], service: string, action: string): T | undefined {
  const found = queue.find((f) => f.times > 0 && matches(f.action, service, action));
  if (found) found.times--;
  return found;
}

export class Faults implements FaultControls {
  private global: Knobs = {};
  private readonly perAction = new Map<string, Knobs>();
  private pending: { action: string; code: string; times: number }[] = [];
  private readonly gates = new Map<string, { opened: Promise<void>; open: () => void }>();
  private lost: { action: string; code: string; times: number }[] = [];
  private html: { action: string; status: number; times: number }[] = [];
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  set(f: FaultSettings): void {
    const { actions, ...knobs } = f;
    for (const rate of [knobs.throttleRate, knobs.serverErrorRate]) {
      if (rate !== undefined && (rate < 0 || rate > 1)) throw new RangeError(`fault rate must be within 0..1, got ${rate}`);
    }
    if (actions && actions.length > 0) for (const a of actions) this.perAction.set(a, knobs);
    else this.global = knobs;
  }

  failNext(action: string, code: string, times = 1): void {
    this.pending.push({ action, code, times });
  }

  /** How long a new access key stays unknown to authentication. */
  keyPropagationMs(): number {
    return this.global.keyPropagationMs ?? 0;
  }

  /** How long a new user stays unknown to calls that name it. */
  userPropagationMs(): number {
    return this.global.userPropagationMs ?? 0;
  }

  hold(action: string): () => void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const gate = { opened, open };
    this.gates.set(action, gate);
    return () => {
      gate.open();
      if (this.gates.get(action) === gate) this.gates.delete(action);
    };
  }

  /** Resolves when no hold() gate stands before this call. */
  async gate(service: string, action: string): Promise<void> {
    for (const [pattern, gate] of this.gates) if (matches(pattern, service, action)) await gate.opened;
  }

  loseResponse(action: string, code = 'ServiceUnavailable', times = 1): void {
    this.lost.push({ action, code, times });
  }

  answerHtml(action: string, status: number, times = 1): void {
    this.html.push({ action, status, times });
  }

  /** An HTML answer for this call, if one is queued (it replaces the call: nothing is applied). */
  htmlAnswer(service: string, action: string): number | undefined {
    const queued = take(this.html, service, action);
    if (queued) this.html = this.html.filter((h) => h.times > 0);
    return queued?.status;
  }

  /** What to do with this call's answer once the action has been applied. */
  afterApply(service: string, action: string): AfterApply {
    const queued = take(this.lost, service, action);
    if (!queued) return undefined;
    this.lost = this.lost.filter((l) => l.times > 0);
    return queued.code === 'reset' ? { kind: 'reset' } : { kind: 'error', error: new AwsError(queued.code, `Injected ${queued.code} after ${action} was applied`, statusForCode(queued.code)) };
  }

  clear(): void {
    this.lost = [];
    this.html = [];
    for (const gate of this.gates.values()) gate.open();
    this.gates.clear();
    this.global = {};
    this.perAction.clear();
    this.pending = [];
  }

  /** What to do to this call: how long to wait, and the error to answer with, if any. */
  decide(service: string, action: string): { latencyMs: number; error?: AwsError } {
    let knobs = this.global;
    for (const [pattern, k] of this.perAction) if (matches(pattern, service, action)) knobs = { ...this.global, ...k };
    const latencyMs = knobs.latencyMs ?? 0;

    const queued = this.pending.find((f) => matches(f.action, service, action));
    if (queued) {
      queued.times--;
      if (queued.times <= 0) this.pending = this.pending.filter((f) => f !== queued);
      return { latencyMs, error: new AwsError(queued.code, `Injected ${queued.code} for ${action}`, statusForCode(queued.code)) };
    }
    const json = service === 'secretsmanager';
    if (knobs.throttleRate && this.random() < knobs.throttleRate) {
      return { latencyMs, error: json ? new AwsError('ThrottlingException', 'Rate exceeded', 400) : new AwsError('Throttling', 'Rate exceeded', 400) };
    }
    if (knobs.serverErrorRate && this.random() < knobs.serverErrorRate) {
      const unavailable = this.random() < 0.5;
      if (unavailable) return { latencyMs, error: new AwsError('ServiceUnavailable', 'Service is unavailable. Please try again later.', 503) };
      return {
        latencyMs,
        error: json
          ? new AwsError('InternalServiceError', 'An error occurred on the server side.', 500)
          : new AwsError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500),
      };
    }
    return { latencyMs };
  }
}
