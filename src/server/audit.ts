import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/**
 * credops server's audit device: one JSON line per request, after it is
 * answered, in the shape of Vault's file audit device's response entries
 * (`type`, `auth`, `request`, `response`, `error`), with credops's `outcome`
 * and `auth.auth_role`/`auth.identity` beside Vault's fields. Unlike Vault it
 * hashes nothing because it records nothing secret: the token appears only as
 * its accessor, a credential only as its lease id and access key id.
 */

export interface AuditAuth {
  accessor: string;
  display_name: string;
  policies: string[];
  metadata: Record<string, string>;
  /** credops: the auth role (`jwt/ci`) and the user_claim's value. */
  auth_role: string;
  identity: string;
}

export type Outcome = 'ok' | 'denied' | 'rate_limited' | 'invalid' | 'error';

export interface AuditEntry {
  auth?: AuditAuth;
  request: { id: string; operation: string; path: string; remote_address?: string; mount_point?: string };
  response: { status: number; lease_id?: string; access_key_id?: string; auth_accessor?: string; revoked?: number };
  outcome: Outcome;
  error?: string;
}

/** Field names that carry a secret: a match is a bug (DESIGN invariant 2), refused rather than written. */
const SECRET_FIELD = /^(client_token|token|jwt|secret_key|security_token|session_token|secret_access_key)$/i;

export class RequestAudit {
  private readonly stream: WriteStream | NodeJS.WritableStream | undefined;

  /** `path`: a file (appended to), `-` for standard output, undefined for none. */
  constructor(
    readonly path: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    if (path === undefined) return;
    if (path === '-') this.stream = process.stdout;
    else {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Appending (O_APPEND): each line is one write, so lines of several processes do not interleave.
      this.stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    }
  }

  record(entry: AuditEntry): void {
    assertNoSecret(entry);
    if (!this.stream) return;
    this.stream.write(`${JSON.stringify({ time: new Date(this.now()).toISOString(), type: 'response', ...entry })}\n`);
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (!stream || stream === process.stdout) return;
    await new Promise<void>((resolve) => (stream as WriteStream).end(resolve));
  }
}

function assertNoSecret(value: unknown, at = ''): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_FIELD.test(key)) throw new Error(`bug: the audit entry has a secret field ${at}/${key}`);
    assertNoSecret(v, `${at}/${key}`);
  }
}
