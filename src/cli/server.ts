import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../duration.js';
import { errorMessage, LockError, LockLostError, UserError } from '../errors.js';
import type { AppliedSnapshot } from '../model/types.js';
import type { LogEntry } from '../reconcile/watch.js';
import { addRepoOptions, type RepoOptions } from './repo-options.js';
import { openState } from '../state/index.js';
import type { StateStore } from '../state/store.js';
import { lockOwner, openRunState, runtimeFor, type Run } from './runtime.js';
import { runClock, sleepOn } from './test-clock.js';
import { VERSION } from './version.js';
import { reconcileLoop, stopOnSignals } from './watch.js';

interface ServerOptions extends RepoOptions {
  listen: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  insecureListen?: boolean;
  interval: string;
  auditFile?: string;
  standbyCheck: string;
}

/** How long the API trusts its copy of the applied snapshot (roles, auth, ACL): a commit reaches every replica within this. */
const APPLIED_MAX_AGE_MS = 2_000;

/**
 * `credops server`: the watch loop plus Vault's HTTP API (src/server/).
 * Every replica serves the API from the shared state; the one that holds the
 * state's lock runs the reconcile loop, and the others try to take it over
 * every --standby-check, so that a replica that dies is replaced (DynamoDB:
 * once its lock expires, see the state URL's lock_ttl).
 */
export function registerServer(program: Command, run: Run): void {
  addRepoOptions(program.command('server').description("reconcile continuously and serve Vault's HTTP API to applications (auth/ and acl/ say who may ask)"))
    .option('--listen <address:port>', 'where the API listens', '127.0.0.1:8200')
    .option('--tls-cert-file <file>', 'PEM certificate (chain) for HTTPS')
    .option('--tls-key-file <file>', 'PEM private key for HTTPS')
    .option('--insecure-listen', 'allow plain HTTP on a non-loopback address (TLS ends in front of credops)')
    .option('--interval <duration>', 'how often the reconciling replica fetches the repo', '1m')
    .option('--audit-file <file>', 'request audit log, one JSON line per request ("-": standard output; default: server-audit.log beside the audit log)')
    .option('--standby-check <duration>', 'how often a standby replica tries to take over the reconcile loop', '10s')
    .action(async (opts: ServerOptions, cmd: Command) => {
      const intervalSeconds = parseDuration(opts.interval);
      const standbyMs = parseDuration(opts.standbyCheck) * 1000;
      if (intervalSeconds < 1 || standbyMs < 1000) throw new UserError('--interval and --standby-check must be at least 1s');
      const [{ listen, parseListen }, { VaultApi }, { RequestAudit }, { TokenStore }, { recountRoleCaps }, { jsonLogLine }] = await Promise.all([
        import('../server/http.js'),
        import('../server/api.js'),
        import('../server/audit.js'),
        import('../server/tokens.js'),
        import('../server/caps.js'),
        import('../reconcile/watch.js'),
      ]);
      parseListen(opts.listen);
      const clock = runClock(run.io.env);
      const log = (entry: LogEntry) => run.io.stdout(jsonLogLine(entry, clock.now()));
      // Two handles on one state: the API's, which never holds the lock, and the reconcile loop's.
      const api = await openRunState(cmd, run);
      const lead = await openState(api.where.stateUrl, { cwd: api.where.stateBase }).catch(async (err: unknown) => {
        await api.state.close();
        throw err;
      });
      const stop = stopOnSignals(run, log);
      try {
        const applied = cachedApplied(api.state);
        const rt = await runtimeFor(api.state, run.io, api.where, { applied });
        const leaderRt = await runtimeFor(lead, run.io, api.where);
        const auditPath = opts.auditFile === undefined ? join(dirname(api.where.auditPath), 'server-audit.log') : opts.auditFile === '-' ? '-' : resolve(run.io.cwd, opts.auditFile);
        const audit = new RequestAudit(auditPath, clock.now);
        let leading = false;
        const vault = new VaultApi({
          state: rt.state,
          engine: rt.engine,
          tokens: new TokenStore(rt.state, run.io.env, clock.now),
          audit,
          applied,
          isLeader: () => leading,
          now: clock.now,
          env: run.io.env,
          version: VERSION,
        });
        const listener = await listen(opts, (req, res) => vault.handle(req, res));
        log({ level: 'info', event: 'server.listening', address: listener.host, port: listener.port, tls: listener.tls, audit_file: auditPath });

        const leaderTokens = new TokenStore(lead, run.io.env, clock.now);
        const housekeeping = async () => {
          const snapshot = await lead.getApplied();
          const recounted = await recountRoleCaps(lead, snapshot.roles);
          const forgotten = await leaderTokens.forgetExpired();
          if (recounted || forgotten.length) log({ level: 'info', event: 'server.housekeeping', caps_recounted: recounted, tokens_expired: forgotten.length });
        };

        // Until stopped: take the lock when it is free, and reconcile while holding it.
        while (!stop.signal.aborted) {
          let handle;
          try {
            handle = await lead.lock(lockOwner('server'), 0);
          } catch (err) {
            if (!(err instanceof LockError)) log({ level: 'error', event: 'server.lock_failed', error: errorMessage(err) });
            await sleepOn(clock, standbyMs, stop.signal);
            continue;
          }
          leading = true;
          log({ level: 'info', event: 'server.reconciling', note: 'this replica holds the state lock and runs the reconcile loop' });
          const term = new AbortController();
          const onStop = () => term.abort();
          stop.signal.addEventListener('abort', onStop, { once: true });
          // Every interval while leading, whether or not a reconcile was due.
          let tidying: Promise<void> | undefined;
          const tidy = setInterval(() => {
            tidying ??= housekeeping()
              .catch((err: unknown) => log({ level: 'warn', event: 'server.housekeeping_failed', error: errorMessage(err) }))
              .finally(() => (tidying = undefined));
          }, intervalSeconds * 1000);
          try {
            await reconcileLoop({
              run,
              rt: leaderRt,
              repo: opts,
              intervalSeconds,
              signal: term.signal,
              log,
              locked: async (fn) => {
                try {
                  return await fn();
                } catch (err) {
                  if (err instanceof LockLostError) term.abort();
                  throw err;
                }
              },
            });
          } finally {
            clearInterval(tidy);
            await tidying;
            stop.signal.removeEventListener('abort', onStop);
            leading = false;
            await handle.release().catch(() => undefined);
          }
          if (!stop.signal.aborted) log({ level: 'warn', event: 'server.standby', note: 'the state lock was taken over; this replica keeps serving the API' });
        }
        log({ level: 'info', event: 'server.draining', in_flight: listener.inFlight() });
        await listener.close();
        await audit.close();
        log({ level: 'info', event: 'server.stopped' });
      } finally {
        stop.dispose();
        await lead.close().catch(() => undefined);
        await api.state.close().catch(() => undefined);
      }
    });
}

/** The applied snapshot, read again at most every APPLIED_MAX_AGE_MS; concurrent requests share one read. */
function cachedApplied(state: StateStore): () => Promise<AppliedSnapshot> {
  let cached: { at: number; value: Promise<AppliedSnapshot> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > APPLIED_MAX_AGE_MS) {
      const value = state.getApplied();
      cached = { at: now, value };
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  };
}
