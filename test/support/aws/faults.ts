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
  clear(): void;
}

type Knobs = Omit<FaultSettings, 'actions'>;

const matches = (pattern: string, service: string, action: string): boolean =>
  pattern === '*' || pattern === action || pattern === `${service}:${action}`;

export class Faults implements FaultControls {
  private global: Knobs = {};
  private readonly perAction = new Map<string, Knobs>();
  private pending: { action: string; code: string; times: number }[] = [];
  private readonly gates = new Map<string, { opened: Promise<void>; open: () => void }>();
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

  clear(): void {
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
