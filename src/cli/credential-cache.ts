import { createHash } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Lease } from '../model/types.js';
import { writeFileAtomic } from '../sinks/atomic-file.js';
import { decryptSecret, encryptSecret } from '../state/crypto.js';

/**
 * The cache behind `credops credential-process`: the AWS SDKs run the command
 * whenever they want credentials (every process start, every refresh), and
 * each run must not issue a new IAM user. The secret must not go into the
 * state (DESIGN invariant 2), so it is kept in a file of the user's own, mode
 * 0600 in a 0700 directory, encrypted with CREDOPS_STATE_KEY when that is set,
 * like the AWS CLI's own ~/.aws/cli/cache. A cached credential is used again
 * only while its lease is still in the state (not revoked, not replaced) and
 * far enough from its expiry.
 */

export const CACHE_DIR_ENV = 'CREDOPS_CACHE_DIR';

/**
 * A cached credential is handed out again only with more than this left. The
 * SDKs refresh credentials that come near their Expiration and would call us
 * again at once for one that is already there: the JavaScript SDK 5 minutes
 * before (@smithy/core EXPIRATION_MS), botocore (AWS CLI, boto3) 15 minutes
 * before (advisory; 10 minutes mandatory). So: botocore's 15 minutes.
 */
export const REUSE_MARGIN_SECONDS = 15 * 60;

const FORMAT_VERSION = 1;

export interface CachedCredential {
  leaseId: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** ISO 8601. STS credentials only: when AWS expires it, whatever the lease says. */
  expiration?: string;
}

interface CacheFile {
  version: number;
  /** encryptSecret() of the credential's JSON, with the file name as context. */
  encrypted?: string;
  credential?: CachedCredential;
}

/** $CREDOPS_CACHE_DIR, else $XDG_CACHE_HOME/credops, else ~/.cache/credops (XDG Base Directory). */
export function credentialCacheDir(env: NodeJS.ProcessEnv, home: string = env.HOME || homedir()): string {
  const own = env[CACHE_DIR_ENV]?.trim();
  if (own) return resolve(own);
  const xdg = env.XDG_CACHE_HOME?.trim();
  // The spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.cache'), 'credops');
}

/** The cache entry for one (state, mount, role[, role ARN]): a hash, so the file name says nothing. */
export function cacheEntryName(parts: { state: string; mount: string; role: string; roleArn?: string }): string {
  const id = [parts.state, parts.mount, parts.role, parts.roleArn ?? ''].join('\0');
  return `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`;
}

/**
 * Until when a cached credential may be handed out (epoch ms), or undefined:
 * its lease must still be in the state, not replaced (revokeAt), and have
 * more than `marginSeconds` left. An iam_user key lives as long as its lease,
 * which a renewal may have extended; an STS credential no longer than AWS said.
 */
export function reusableUntil(cached: CachedCredential, lease: Lease | undefined, now: number, marginSeconds = REUSE_MARGIN_SECONDS): number | undefined {
  if (!lease || lease.leaseId !== cached.leaseId || lease.revokeAt !== undefined) return undefined;
  if (lease.resources.accessKeyId !== undefined && lease.resources.accessKeyId !== cached.accessKeyId) return undefined;
  const until = Math.min(lease.expiresAt, cached.expiration ? Date.parse(cached.expiration) : Infinity);
  return Number.isFinite(until) && until - now > marginSeconds * 1000 ? until : undefined;
}

export class CredentialCache {
  /** `key`: the state key (stateKeyFromEnv) to encrypt entries with; without one they are stored as they are, mode 0600. */
  constructor(
    readonly dir: string,
    private readonly key?: Buffer,
  ) {}

  /** The entry, or undefined when there is none or it cannot be trusted (not ours, readable by others, another key). */
  async read(name: string): Promise<CachedCredential | undefined> {
    const path = join(this.dir, name);
    try {
      const info = await stat(path);
      // Someone else's file, or one others can read, is not a credential we hand out.
      if ((process.getuid && info.uid !== process.getuid()) || (info.mode & 0o077) !== 0) return undefined;
      const file = JSON.parse(await readFile(path, 'utf8')) as CacheFile;
      if (file.version !== FORMAT_VERSION) return undefined;
      if (this.key) {
        // Without encryption a file is not trusted either: an attacker could have written it.
        if (typeof file.encrypted !== 'string') return undefined;
        return validCredential(JSON.parse(decryptSecret(file.encrypted, this.key, context(name))));
      }
      return validCredential(file.credential);
    } catch {
      return undefined;
    }
  }

  /** Writes atomically (temp file, fsync, rename), mode 0600, so that a concurrent reader sees the old entry or the new one. */
  async write(name: string, credential: CachedCredential): Promise<void> {
    const file: CacheFile = this.key
      ? { version: FORMAT_VERSION, encrypted: encryptSecret(JSON.stringify(credential), this.key, context(name)) }
      : { version: FORMAT_VERSION, credential };
    await writeFileAtomic(join(this.dir, name), `${JSON.stringify(file)}\n`);
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
  }
}

/** The entry's name is authenticated with it: an entry copied onto another role's file does not decrypt. */
function context(name: string): string {
  return `credential-cache/${name}`;
}

function validCredential(value: unknown): CachedCredential | undefined {
  const c = value as Partial<CachedCredential> | undefined;
  if (!c || typeof c.leaseId !== 'string' || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string') return undefined;
  if (c.sessionToken !== undefined && typeof c.sessionToken !== 'string') return undefined;
  if (c.expiration !== undefined && (typeof c.expiration !== 'string' || Number.isNaN(Date.parse(c.expiration)))) return undefined;
  return c as CachedCredential;
}
