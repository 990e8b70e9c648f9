import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../clock.js';
import { CredentialCache, cacheEntryName, cacheKey, credentialCacheDir, reusableUntil, type CachedCredential } from './credential-cache.js';
import type { IssuedCredential } from '../engine/index.js';
/** Loaded when an action runs, not with the CLI (issue #11). */
const registryModule = () => import('../engine/registry.js');
import { parseDuration } from '../duration.js';
import type { StateStore } from '../state/store.js';
import { locate } from './location.js';
import { runtimeFor, withLock, withState, type Run } from './runtime.js';

interface CredentialProcessOptions {
  mount: string;
  ttl?: string;
  roleArn?: string;
}

/** What the AWS SDKs and CLI read from a credential_process command (AWS SDKs and Tools reference guide, "Process credential provider"). */
export interface ProcessCredentialOutput {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  Expiration: string;
}

/**
 * `credops credential-process ROLE`, for `credential_process = credops
 * credential-process ROLE` in ~/.aws/config. Prints a cached credential while
 * it is good (engine/credential-cache.ts), else issues one.
 */
export function registerCredentialProcess(program: Command, run: Run): void {
  program
    .command('credential-process')
    .description('print AWS credential_process JSON for a role, reusing a cached credential while it is valid')
    .argument('<role>')
    .option('--mount <mount>', 'secrets engine mount', 'aws')
    .option('--ttl <duration>', "for a new credential: iam_user lease TTL (up to the mount's lease_max); STS types: credential TTL")
    .option('--role-arn <arn>', 'assumed_role: which of the role_arns to assume')
    .action(async (role: string, opts: CredentialProcessOptions, cmd: Command) => {
      const ttl = opts.ttl === undefined ? undefined : parseDuration(opts.ttl);
      const env = run.io.env;
      const cache = new CredentialCache(credentialCacheDir(env), await cacheKey(env));
      const where = await locate(cmd, run.io);
      const name = cacheEntryName({
        state: stateIdentity(where.stateUrl, where.stateBase),
        mount: opts.mount,
        role,
        ...(opts.roleArn ? { roleArn: opts.roleArn } : {}),
      });

      const output = await withState(cmd, run, async (state) => {
        const cached = await fromCache(state, cache, name);
        if (cached) return cached;
        // Two SDK calls at once (a shell loop, parallel test workers) must not both issue:
        // the second waits for the lock, then finds the first one's credential in the cache.
        return withLock(cmd, state, 'credential-process', async () => {
          const again = await fromCache(state, cache, name);
          if (again) return again;
          const engine = (await runtimeFor(state, run.io, where)).engine;
          await engine.recover();
          const applied = (await state.getApplied()).roles.find((r) => r.mount === opts.mount && r.name === role);
          // As a sink does. An unknown role is asked at creds/, where the engine says it does not exist.
          const path = applied ? (await registryModule()).defaultPathOf(applied) : 'creds';
          const cred = await engine.issue({
            mount: opts.mount,
            role,
            path,
            ...(ttl !== undefined ? { ttl } : {}),
            ...(opts.roleArn ? { roleArn: opts.roleArn } : {}),
          });
          const entry = cacheEntry(cred);
          await cache.write(name, entry);
          // IAM is eventually consistent: the SDK uses the key at once, and must not be refused.
          if ((await registryModule()).credentialKind(cred.lease.credentialType)?.verifyBeforeUse) await engine.waitUntilUsable(cred, opts.mount);
          return processOutput(entry, Math.min(cred.lease.expiresAt, cred.expiration?.getTime() ?? Infinity));
        });
      });
      run.io.stdout(`${JSON.stringify(output)}\n`);
    });
}

async function fromCache(state: StateStore, cache: CredentialCache, name: string): Promise<ProcessCredentialOutput | undefined> {
  const cached = await cache.read(name);
  if (!cached) return undefined;
  const until = reusableUntil(cached, await state.getLease(cached.leaseId), systemClock.now());
  return until === undefined ? undefined : processOutput(cached, until);
}

function cacheEntry(cred: IssuedCredential): CachedCredential {
  return {
    leaseId: cred.lease.leaseId,
    accessKeyId: cred.accessKeyId,
    secretAccessKey: cred.secretAccessKey,
    ...(cred.sessionToken ? { sessionToken: cred.sessionToken } : {}),
    ...(cred.expiration ? { expiration: cred.expiration.toISOString() } : {}),
  };
}

/** iam_user keys have no session token and no expiry of their own: Expiration is the lease's, so the SDK asks again before it ends. */
export function processOutput(c: CachedCredential, expiresAt: number): ProcessCredentialOutput {
  return {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    ...(c.sessionToken ? { SessionToken: c.sessionToken } : {}),
    Expiration: new Date(expiresAt).toISOString(),
  };
}

/**
 * The state a URL names, whatever the working directory: the SDK runs
 * credential_process from the directory of whatever program wants credentials,
 * so a relative path after the scheme (sqlite:.credops/state.db) is made absolute.
 */
export function stateIdentity(url: string, cwd: string): string {
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(url);
  const rest = match?.[2];
  if (!match || rest === undefined || rest === '' || rest.startsWith('//') || rest === ':memory:' || isAbsolute(rest)) return url;
  return `${match[1]}:${resolve(cwd, rest)}`;
}
