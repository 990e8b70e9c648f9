import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { StateStore } from './store.js';

export type { StateStore } from './store.js';
export { NoStateError } from './store.js';
import { NoStateError } from './store.js';

/** Where the state lives when neither --state nor CREDOPS_STATE says (DESIGN "CLI contract"). */
export const DEFAULT_STATE_URL = 'sqlite:.credops/state.db';

export interface OpenStateOptions {
  /** Base of relative paths in the URL; default process.cwd(). */
  cwd?: string;
  /** Create the state when it does not exist (default). When false, a missing state throws NoStateError. */
  create?: boolean;
  /** Open a state that `credops state migrate` moved elsewhere (only `credops state show` does). */
  allowMoved?: boolean;
  /**
   * The caller only reads, once, right after opening (plan, status): the
   * backend may answer its first getApplied() from what it read at open, one
   * point-in-time view for one read less.
   */
  readOnce?: boolean;
}


/** Opens the backend for one URL scheme; `rest` is the URL after "SCHEME:". */
type BackendOpener = (rest: string, url: string, options: Required<OpenStateOptions>) => Promise<StateStore>;

/** The state backends, by URL scheme. A new backend is one file and one line here. */
const BACKENDS: Record<string, BackendOpener> = {
  sqlite: async (rest, url, { cwd, create }) => {
    const path = sqlitePath(rest, url, cwd);
    if (!create && path !== ':memory:' && !existsSync(path)) throw new NoStateError(path);
    // Loaded when a state is opened, not with the CLI: `--version` needs no native module.
    const { SqliteStateStore } = await import('./sqlite.js');
    return SqliteStateStore.open(path, { url });
  },
  dynamodb: async (_rest, url, { create, readOnce }) => {
    const { parseDynamoUrl } = await import('./dynamodb-location.js');
    const where = parseDynamoUrl(url);
    // The DynamoDB client is loaded only for a DynamoDB state.
    const { DynamoStateStore } = await import('./dynamodb.js');
    return DynamoStateStore.open(where, { create, reuseOpenRead: readOnce });
  },
};

/** `--state` flag, else CREDOPS_STATE: the state the user named on the command line or in the environment, if any. */
export function stateUrlNamed(flag?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return nonEmpty(flag) ?? nonEmpty(env.CREDOPS_STATE);
}

/** `--state` flag, else CREDOPS_STATE, else the default (cli/location.ts puts credops.yaml's `state:` before the default). */
export function stateUrlFrom(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return stateUrlNamed(flag, env) ?? DEFAULT_STATE_URL;
}

export async function openState(url: string, options: OpenStateOptions = {}): Promise<StateStore> {
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(url);
  const scheme = match?.[1]?.toLowerCase();
  const opener = scheme === undefined ? undefined : BACKENDS[scheme];
  if (!match || !opener) {
    const known = Object.keys(BACKENDS)
      .map((s) => `${s}:`)
      .join(', ');
    const what = scheme ? `unknown state backend "${scheme}"` : 'a state URL must start with a backend scheme';
    throw new UserError(`${what} in --state/CREDOPS_STATE "${url}"; known: ${known} (e.g. ${DEFAULT_STATE_URL} or dynamodb://TABLE/KEY)`);
  }
  const store = await opener(match[2] ?? '', url, { cwd: options.cwd ?? process.cwd(), create: options.create ?? true, allowMoved: options.allowMoved ?? false, readOnce: options.readOnce ?? false });
  if (store.movedTo && !options.allowMoved) {
    await store.close();
    const at = new Date(store.movedTo.at).toISOString().replace(/\.\d{3}Z$/, 'Z');
    throw new UserError(
      `the state ${url} was moved to ${store.movedTo.url} by credops state migrate at ${at}; nothing was done. ` +
        `Use --state ${store.movedTo.url} (or set CREDOPS_STATE / credops.yaml's state: to it)`,
    );
  }
  return store;
}

/**
 * sqlite:PATH (relative to cwd), sqlite:/abs/path, sqlite:///abs/path,
 * sqlite::memory: (tests). A host (sqlite://host/...) means nothing for a local file.
 */
function sqlitePath(rest: string, url: string, cwd: string): string {
  if (rest === ':memory:') return ':memory:';
  let path = rest;
  if (path.startsWith('//')) {
    if (!path.startsWith('///')) {
      throw new UserError(`state URL "${url}" names a host; use sqlite:relative/path or sqlite:///absolute/path`);
    }
    path = path.slice(2);
  }
  if (path === '') throw new UserError(`state URL "${url}" has no path; e.g. ${DEFAULT_STATE_URL}`);
  return isAbsolute(path) ? path : resolve(cwd, path);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
