import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { SinkSpec } from '../model/types.js';
import { writeFileAtomic } from './atomic-file.js';
import { readIniProfile, removeIniProfile, setIniProfile } from './ini.js';
import { foreignOwner, ownedByAnotherState, type PublishedCredential, type Sink, type SinkContext, type SinkRefresh } from './sink.js';

export type FileSinkFormat = 'ini' | 'json' | 'dotenv';

/** The `file:` block of a sink file. */
export interface FileSinkConfig {
  path: string;
  /** Default ini: an AWS shared credentials file. */
  format?: FileSinkFormat;
  /** ini only; default "default". */
  profile?: string;
}

/**
 * One format: how the credential is written and how credops recognises its own
 * content, so that it never overwrites or deletes what a person put there.
 */
interface FileFormat {
  /** The new file content, from the current one ('' when there is none). */
  write(current: string, cred: PublishedCredential): string;
  /** The content with credops's part removed, or undefined to delete the file. */
  remove(current: string): string | undefined;
  /** True when `current` holds nothing, or only what this sink wrote. */
  ours(current: string): boolean;
  /** `current` (ours) with the published expiry moved, or undefined when it holds another lease. */
  refresh(current: string, update: SinkRefresh): string | undefined;
  /** The state and lease `current` records as its publisher. */
  owner(current: string): { stateId?: string; leaseId?: string };
}

export function fileSink(spec: SinkSpec, ctx: SinkContext): Sink {
  const config = spec.config as unknown as FileSinkConfig;
  const format = config.format ?? 'ini';
  const profile = config.profile ?? 'default';
  const path = expandPath(config.path, ctx);
  const target = format === 'ini' ? `file ${path} [${profile}]` : `file ${path} (${format})`;
  const state = ctx.stateId ? ` state ${ctx.stateId},` : '';
  const marker = (lease?: SinkRefresh) =>
    `# credops sink ${spec.name}:` + (lease ? `${state} lease ${lease.leaseId}, expires ${lease.expiration.toISOString()}; rewritten on rotation, do not edit` : '');
  const markerLease = (line: string | undefined) => (line?.startsWith(marker()) ? / lease (.+?), expires /.exec(line.slice(marker().length))?.[1] : undefined);
  const markerOwner = (line: string | undefined) => {
    if (!line?.startsWith(marker())) return {};
    const stateId = / state (\w+),/.exec(line.slice(marker().length))?.[1];
    const leaseId = markerLease(line);
    return { ...(stateId ? { stateId } : {}), ...(leaseId ? { leaseId } : {}) };
  };

  const formats: Record<FileSinkFormat, FileFormat> = {
    ini: {
      write: (current, cred) =>
        setIniProfile(current, profile, marker(cred), [
          ['aws_access_key_id', cred.accessKeyId],
          ['aws_secret_access_key', cred.secretAccessKey],
          ['aws_session_token', cred.sessionToken],
        ]),
      remove: (current) => removeIniProfile(current, profile),
      ours: (current) => {
        const lines = readIniProfile(current, profile);
        return lines === undefined || (lines[0] ?? '').startsWith(marker());
      },
      // No SDK reads an expiry from a credentials file; the marker is where a person sees it.
      refresh: (current, update) =>
        markerLease(readIniProfile(current, profile)?.[0]) === update.leaseId ? setIniProfile(current, profile, marker(update), []) : undefined,
      owner: (current) => markerOwner(readIniProfile(current, profile)?.[0]),
    },
    json: {
      // Version 1 and these names make the file valid credential_process output (`cat FILE`).
      write: (_current, cred) =>
        `${JSON.stringify(
          {
            Version: 1,
            AccessKeyId: cred.accessKeyId,
            SecretAccessKey: cred.secretAccessKey,
            ...(cred.sessionToken ? { SessionToken: cred.sessionToken } : {}),
            Expiration: cred.expiration.toISOString(),
            lease_id: cred.leaseId,
            credops_sink: spec.name,
            ...(ctx.stateId ? { credops_state: ctx.stateId } : {}),
          },
          null,
          2,
        )}\n`,
      remove: () => undefined,
      ours: (current) => current.trim() === '' || parseObject(current)?.credops_sink === spec.name,
      refresh: (current, update) => {
        const value = parseObject(current);
        if (value?.lease_id !== update.leaseId) return undefined;
        value.Expiration = update.expiration.toISOString();
        return `${JSON.stringify(value, null, 2)}\n`;
      },
      owner: (current) => {
        const value = parseObject(current);
        return {
          ...(typeof value?.credops_state === 'string' ? { stateId: value.credops_state } : {}),
          ...(typeof value?.lease_id === 'string' ? { leaseId: value.lease_id } : {}),
        };
      },
    },
    dotenv: {
      // The variable names the AWS SDKs and CLI read from the environment.
      write: (_current, cred) =>
        [
          marker(cred),
          `AWS_ACCESS_KEY_ID=${cred.accessKeyId}`,
          `AWS_SECRET_ACCESS_KEY=${cred.secretAccessKey}`,
          ...(cred.sessionToken ? [`AWS_SESSION_TOKEN=${cred.sessionToken}`] : []),
          `AWS_CREDENTIAL_EXPIRATION=${cred.expiration.toISOString()}`,
          `CREDOPS_LEASE_ID=${cred.leaseId}`,
          ...(ctx.stateId ? [`CREDOPS_STATE_ID=${ctx.stateId}`] : []),
          '',
        ].join('\n'),
      remove: () => undefined,
      ours: (current) => current.trim() === '' || current.startsWith(marker()),
      refresh: (current, update) => {
        const lines = current.split('\n');
        if (!lines.includes(`CREDOPS_LEASE_ID=${update.leaseId}`)) return undefined;
        const expiry = 'AWS_CREDENTIAL_EXPIRATION=';
        return lines
          .map((line, i) => (i === 0 ? marker(update) : line.startsWith(expiry) ? expiry + update.expiration.toISOString() : line))
          .join('\n');
      },
      owner: (current) => {
        const value = (name: string) => current.split('\n').find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1);
        const [stateId, leaseId] = [value('CREDOPS_STATE_ID'), value('CREDOPS_LEASE_ID')];
        return { ...(stateId ? { stateId } : {}), ...(leaseId ? { leaseId } : {}) };
      },
    },
  };
  const fmt = formats[format];
  if (!fmt) throw new UserError(`sink "${spec.name}" (${spec.source}): unknown file format "${String(format)}"; use ini, json or dotenv`);

  return {
    describe: () => target,

    async owner() {
      const current = await readIfExists(path, target);
      return current === undefined || !current.trim() || !fmt.ours(current) ? undefined : fmt.owner(current);
    },

    async publish(cred) {
      // The ownership check reads exactly the file that will be replaced; no
      // directory is created before it has passed (writeAtomic makes them).
      const current = (await readIfExists(path, target)) ?? '';
      const owner = current.trim() && fmt.ours(current) ? fmt.owner(current).stateId : undefined;
      if (foreignOwner(spec, ctx, owner)) throw ownedByAnotherState(spec, target, owner!);
      if (!fmt.ours(current)) {
        throw new UserError(
          `sink "${spec.name}" (${spec.source}): ${target} exists and was not written by credops; refusing to overwrite it. ` +
            (format === 'ini' ? 'Choose another profile, or delete that profile first.' : 'Choose another path, or delete the file first.'),
        );
      }
      await writeAtomic(path, fmt.write(current, cred), target);
    },

    async refresh(update) {
      const current = await readIfExists(path, target);
      const next = current?.trim() && fmt.ours(current) ? fmt.refresh(current, update) : undefined;
      if (current === undefined || next === undefined) {
        throw new UserError(
          `sink "${spec.name}" (${spec.source}): ${target} does not hold lease ${update.leaseId} as credops published it; refusing to change its expiry`,
        );
      }
      if (next === current) return 'not-needed';
      await writeAtomic(path, next, target);
      return 'refreshed';
    },

    async remove() {
      const current = await readIfExists(path, target);
      // Gone, or replaced by someone: nothing of ours left to remove.
      if (current === undefined || !fmt.ours(current)) return;
      const next = fmt.remove(current);
      if (next === undefined) await rm(path, { force: true });
      else if (next !== current) await writeAtomic(path, next, target);
    },
  };
}

/**
 * The one path the sink writes, resolved before anything else: `~` expanded,
 * relative to the working directory, and `..` and `.` resolved by name. So
 * "/tmp/missing/../v/x.json" is "/tmp/v/x.json": the file checked for ownership
 * is the file replaced, and "/tmp/missing" is never made.
 */
function expandPath(path: string, ctx: SinkContext): string {
  if (path === '~' || path.startsWith('~/')) return resolve(join(ctx.home ?? homedir(), path.slice(1)));
  return resolve(ctx.cwd, path);
}

/** A JSON object, or undefined; never a parse error, whose message would quote the text (and so the secret). */
function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The file's content, read without following a symbolic link at its name: a
 * link could make credops edit, and chmod 0600, a file the sink does not name
 * (someone else's, or one outside the path entirely). Only a regular file is
 * read and, later, replaced.
 */
async function readIfExists(path: string, target: string): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') {
      throw new UserError(`${target}: ${path} is a symbolic link; credops writes only the regular file a sink names. Set the sink's path to the file the link points to`);
    }
    throw fsError(err, target, 'read');
  }
  try {
    if (!(await fh.stat()).isFile()) throw new UserError(`${target}: ${path} is not a regular file; refusing to replace it`);
    return await fh.readFile('utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw fsError(err, target, 'read');
  } finally {
    await fh.close();
  }
}

async function writeAtomic(path: string, content: string, target: string): Promise<void> {
  try {
    await writeFileAtomic(path, content);
  } catch (err) {
    throw fsError(err, target, 'write');
  }
}

function fsError(err: unknown, target: string, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? new UserError(`${target}: cannot ${what}: ${code}`, { cause: err }) : (err as Error);
}
