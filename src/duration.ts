import { UserError } from './errors.js';

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses a TTL the way Vault's parseutil.ParseDurationSecond does: an integer
 * number of seconds (number or numeric string) or a Go duration string such as
 * "15m", "1h30m", "768h", with Vault's extra "d" unit. Returns whole seconds.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new UserError(`invalid duration ${value}: must be a whole number of seconds`);
    return value;
  }
  // A large repo spells the same few TTLs thousands of times: each spelling is parsed once.
  let seconds = parsed.get(value);
  if (seconds === undefined) {
    seconds = parseText(value);
    if (parsed.size < PARSED_MAX) parsed.set(value, seconds);
  }
  return seconds;
}

const PARSED_MAX = 1024;
const parsed = new Map<string, number>();

function parseText(value: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const parts = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(text) ? text.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d)/g) : null;
  if (!parts) throw new UserError(`invalid duration "${value}": use seconds or a duration such as 15m, 1h, 768h`);
  let seconds = 0;
  for (const part of parts) {
    const [, amount, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part)!;
    seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  }
  return Math.floor(seconds);
}

/** Vault's humanised form: 768h0m0s -> "768h", 3599 -> "59m59s". */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/**
 * "10/m", "100/h", "5/30s": a count per period (credops server's
 * max_issue_rate). A bare unit is one of it; the schema checked the form.
 */
export function parseIssueRate(value: string): { count: number; periodSeconds: number } {
  const m = /^\s*(\d+)\s*\/\s*(.+?)\s*$/.exec(value);
  if (!m) throw new UserError(`"${value}" is not a rate such as "10/m"`);
  const period = /^[smhd]$/.test(m[2]!) ? `1${m[2]}` : m[2]!;
  return { count: Number(m[1]), periodSeconds: parseDuration(period) };
}

/** "10/m" again, for plans and errors. */
export function formatIssueRate(rate: { count: number; periodSeconds: number }): string {
  const unit = ({ 1: 's', 60: 'm', 3600: 'h', 86400: 'd' } as Record<number, string>)[rate.periodSeconds];
  return `${rate.count}/${unit ?? formatDuration(rate.periodSeconds)}`;
}
