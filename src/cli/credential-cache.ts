import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Lease } from '../model/types.js';
import { writeFileAtomic } from '../sinks/atomic-file.js';
import { decryptSecret, encryptSecret, STATE_KEY_ENV, stateKeyFromEnv } from '../state/crypto.js';

/**
 * The cache behind `credops credential-process`: the AWS SDKs run the command
 * whenever they want credentials (every process start, every refresh), and
 * each run must not issue a new IAM user. The secret must not go into the
 * state (DESIGN invariant 2), so it is kept in a file of the user's own, mode
 * 0600 in a 0700 directory, always encrypted (AES-256-GCM): with
 * CREDOPS_STATE_KEY when that is set, else with a random key of the user's
 * kept apart from the cache (cacheKey below). A cached credential is used
 * again only while its lease is still in the state (not revoked, not replaced)
 * and far enough from its expiry.
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

/** $XDG_CONFIG_HOME/credops/cache.key, else ~/.config/credops/cache.key: not in the cache directory, so a copy of the cache alone reveals nothing. */
export function cacheKeyPath(env: NodeJS.ProcessEnv, home: string = env.HOME || homedir()): string {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.config'), 'credops', 'cache.key');
}

/**
 * The key the cache is encrypted with: CREDOPS_STATE_KEY when set (so a CI job
 * or a shared machine decides), else 32 random bytes created on first use in
 * cacheKeyPath(), mode 0600. Two processes creating it at once agree: the key
 * appears whole or not at all, and the loser reads the winner's.
 */
export async function cacheKey(env: NodeJS.ProcessEnv): Promise<Buffer> {
  if (env[STATE_KEY_ENV]?.trim()) return stateKeyFromEnv(env);
  const path = cacheKeyPath(env);
  const read = async () => {
    const hex = (await readFile(path, 'utf8')).trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new UserError(`${path} is not a credops cache key (64 hex characters); delete it to have a new one made`);
    return Buffer.from(hex, 'hex');
  };
  try {
    return await read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Written whole to a file of our own, then linked into place: link() fails if
  // the key exists, so a process racing us never reads a key half written.
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(`${randomBytes(32).toString('hex')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(temp, { force: true });
  }
  return read();
}

export class CredentialCache {
  /** `key`: what entries are encrypted with (cacheKey()); an entry is never written in the clear. */
  constructor(
    readonly dir: string,
    private readonly key: Buffer,
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
      // An entry in the clear is not trusted either: an attacker could have written it.
      if (typeof file.encrypted !== 'string') return undefined;
      return validCredential(JSON.parse(decryptSecret(file.encrypted, this.key, context(name))));
    } catch {
      return undefined;
    }
  }

  /** Writes atomically (temp file, fsync, rename), mode 0600, so that a concurrent reader sees the old entry or the new one. */
  async write(name: string, credential: CachedCredential): Promise<void> {
    const file: CacheFile = { version: FORMAT_VERSION, encrypted: encryptSecret(JSON.stringify(credential), this.key, context(name)) };
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
