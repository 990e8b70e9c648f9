import { randomInt } from 'node:crypto';
import { UserError } from '../errors.js';

/**
 * Names of what credops creates in AWS (IAM user names, RoleSessionName,
 * federated user names), from a per-mount `username_template` in the spirit of
 * Vault's: `{{role}}`, `{{mount}}`, `{{unix_time}}`, `{{random N}}`.
 */
export const DEFAULT_USERNAME_TEMPLATE = 'credops-{{role}}-{{unix_time}}-{{random 8}}';

export interface UsernameInput {
  role: string;
  mount: string;
  /** Epoch milliseconds. */
  now: number;
  /** Source of randomness for {{random N}}; tests pass a fixed one. */
  random?: (length: number) => string;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlphanumeric(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return out;
}

// IAM user names, RoleSessionName and federated names all allow [\w+=,.@-].
const ALLOWED = /[^\w+=,.@-]/g;

interface Segment {
  text: string;
  /** Role, then mount names may be shortened to fit; literals, time and randomness may not. */
  shrinkable: 'role' | 'mount' | false;
}

/**
 * Renders the template and fits it into `max` characters. When too long, the
 * role and then the mount name are shortened first, so the time and random
 * parts that make the name unique survive; only then is the end cut, as Vault's
 * `truncate` does.
 */
export function renderUsername(template: string, input: UsernameInput, max: number, min = 1): string {
  const random = input.random ?? randomAlphanumeric;
  const segments: Segment[] = [];
  let last = 0;
  for (const match of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    segments.push({ text: template.slice(last, match.index), shrinkable: false });
    segments.push(renderField(match[1] ?? '', input, random, template));
    last = match.index + match[0].length;
  }
  segments.push({ text: template.slice(last), shrinkable: false });
  for (const s of segments) s.text = s.text.replace(ALLOWED, '-');

  let overflow = segments.reduce((n, s) => n + s.text.length, 0) - max;
  for (const field of ['role', 'mount'] as const) {
    for (const s of segments) {
      if (overflow <= 0 || s.shrinkable !== field) continue;
      const cut = Math.min(overflow, s.text.length);
      s.text = s.text.slice(0, s.text.length - cut);
      overflow -= cut;
    }
  }
  const name = segments
    .map((s) => s.text)
    .join('')
    .slice(0, max);
  if (name.length < min) throw new UserError(`username_template "${template}" renders to "${name}", shorter than AWS's minimum of ${min} characters`);
  return name;
}

function renderField(field: string, input: UsernameInput, random: (n: number) => string, template: string): Segment {
  const [name, ...args] = field.split(/\s+/);
  switch (name) {
    case 'role':
      return { text: input.role, shrinkable: 'role' };
    case 'mount':
      return { text: input.mount, shrinkable: 'mount' };
    case 'unix_time':
      return { text: String(Math.floor(input.now / 1000)), shrinkable: false };
    case 'random': {
      const n = Number(args[0]);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new UserError(`username_template "${template}": {{random N}} needs N between 1 and 64`);
      return { text: random(n), shrinkable: false };
    }
    default:
      throw new UserError(`username_template "${template}": unknown field {{${field}}}; use {{role}}, {{mount}}, {{unix_time}} or {{random N}}`);
  }
}
