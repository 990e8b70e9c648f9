/**
 * `credops server` as a real process for the server stories: started on a
 * free port of 127.0.0.1 (it logs where), stopped with SIGTERM, its JSON log
 * lines kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = `const { main } = await import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}); process.exitCode = await main(['node', 'credops', ...process.argv.slice(1)]);`;

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** The JSON log lines so far. */
  events(): Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log line of this event (and matching fields), waiting up to ms. */
  waitFor(event: string, match?: (e: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startServer(args: string[], env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', ENTRY, '--', 'server', '--listen', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const lines: Record<string, unknown>[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const complete = out.split('\n');
    out = complete.pop()!;
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const waitFor = async (event: string, match: (e: Record<string, unknown>) => boolean = () => true, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = lines.find((l) => l.event === event && match(l));
      if (found) return found;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no "${event}" from credops server (${child.exitCode !== null ? `it exited ${child.exitCode}` : 'timed out'}); stderr: ${err}; log: ${lines.map((l) => JSON.stringify(l)).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const listening = await waitFor('server.listening');
  const port = Number(listening.port);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    port,
    events: () => lines,
    stderr: () => err,
    waitFor,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    exited,
  };
}

/** One Vault API call: status and JSON body (undefined when empty). */
export async function vault(url: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const res = await fetch(`${url}/v1/${path}`, {
    method,
    headers: { ...(opts.token && { 'X-Vault-Token': opts.token }), ...(opts.body !== undefined && { 'content-type': 'application/json' }) },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}
