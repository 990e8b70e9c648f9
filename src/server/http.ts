import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { UserError } from '../errors.js';

/**
 * The listener of credops server: HTTP on a loopback address, HTTPS when given
 * a certificate and key, and never plain HTTP on another address unless the
 * operator says so (Vault's tls_disable is as explicit). Stopping drains:
 * no new connection is taken, requests in flight are answered.
 */

/** A request still running after this when stopping is cut off. */
export const DRAIN_TIMEOUT_MS = 30_000;

export interface ListenOptions {
  listen: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  insecureListen?: boolean;
}

export interface Listener {
  host: string;
  port: number;
  tls: boolean;
  /** Requests being answered now. */
  inFlight(): number;
  /** Stops taking connections and resolves when every request in flight was answered (or the drain timed out). */
  close(): Promise<void>;
}

/** "127.0.0.1:8200", "[::1]:8200", "0.0.0.0:8200", ":8200". */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw new UserError(`--listen must be ADDRESS:PORT such as 127.0.0.1:8200 or [::1]:8200, got "${value}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export async function listen(opts: ListenOptions, handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<Listener> {
  const { host, port } = parseListen(opts.listen);
  if ((opts.tlsCertFile === undefined) !== (opts.tlsKeyFile === undefined)) throw new UserError('TLS needs both --tls-cert-file and --tls-key-file');
  const tls = opts.tlsCertFile !== undefined;
  if (!tls && !isLoopback(host) && !opts.insecureListen) {
    throw new UserError(
      `refusing to serve credentials over plain HTTP on ${host}: give --tls-cert-file and --tls-key-file, ` +
        'or --insecure-listen when TLS ends in front of credops (a service mesh, a TLS-terminating load balancer)',
    );
  }
  let active = 0;
  let closing = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    active++;
    if (closing) res.setHeader('Connection', 'close');
    res.on('close', () => {
      active--;
      // A kept-alive connection whose last request was answered is not waited for.
      if (closing) server.closeIdleConnections();
    });
    handler(req, res).catch(() => {
      // The handler answers every error itself; this is a broken connection at worst.
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UserError(`cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const server: Server = tls
    ? createHttpsServer({ cert: read(opts.tlsCertFile!, 'certificate'), key: read(opts.tlsKeyFile!, 'key'), minVersion: 'TLSv1.2' }, onRequest)
    : createHttpServer(onRequest);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UserError(`cannot listen on ${opts.listen}: ${err.code ?? err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    host,
    port: typeof address === 'object' && address ? address.port : port,
    tls,
    inFlight: () => active,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        const timer = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
