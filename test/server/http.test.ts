/**
 * credops server's listener (issue #13): loopback HTTP by default, HTTPS with
 * a certificate and key, no plain HTTP elsewhere unless asked, and a drain on
 * close that answers the request in flight.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, listen, parseListen } from '../../src/server/http.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'credops-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ok = async (_req: unknown, res: import('node:http').ServerResponse) => void res.end('{}');

describe('the listener', () => {
  it('parses ADDRESS:PORT, IPv6 in brackets, and a bare :PORT as every interface', () => {
    expect(parseListen('127.0.0.1:8200')).toEqual({ host: '127.0.0.1', port: 8200 });
    expect(parseListen('[::1]:8300')).toEqual({ host: '::1', port: 8300 });
    expect(parseListen(':8200')).toEqual({ host: '0.0.0.0', port: 8200 });
    expect(() => parseListen('8200')).toThrow('--listen must be ADDRESS:PORT such as 127.0.0.1:8200 or [::1]:8200, got "8200"');
    expect([isLoopback('127.0.0.2'), isLoopback('::1'), isLoopback('0.0.0.0'), isLoopback('10.0.0.1')]).toEqual([true, true, false, false]);
  });

  it('refuses plain HTTP on a non-loopback address unless --insecure-listen', async () => {
    await expect(listen({ listen: '0.0.0.0:0' }, ok)).rejects.toThrow(/refusing to serve credentials over plain HTTP on 0\.0\.0\.0: give --tls-cert-file and --tls-key-file, or --insecure-listen/);
    const l = await listen({ listen: '0.0.0.0:0', insecureListen: true }, ok);
    expect((await fetch(`http://127.0.0.1:${l.port}/`)).status).toBe(200);
    await l.close();
    await expect(listen({ listen: '127.0.0.1:0', tlsCertFile: join(dir, 'cert.pem') }, ok)).rejects.toThrow('TLS needs both --tls-cert-file and --tls-key-file');
    await expect(listen({ listen: '127.0.0.1:0', tlsCertFile: join(dir, 'nope.pem'), tlsKeyFile: join(dir, 'key.pem') }, ok)).rejects.toThrow(/cannot read the TLS certificate .*nope\.pem: ENOENT/);
  });

  it('serves HTTPS with the given certificate and key, on any address', async () => {
    const l = await listen({ listen: '0.0.0.0:0', tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') }, ok);
    expect(l.tls).toBe(true);
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: l.port, path: '/', ca: readFileSync(join(dir, 'cert.pem')) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(200);
    await l.close();
  });

  it('on close, takes no new request and answers the one in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const l = await listen({ listen: '127.0.0.1:0' }, async (_req, res) => {
      await gate;
      res.end('done');
    });
    const inFlight = fetch(`http://127.0.0.1:${l.port}/`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
    expect(l.inFlight()).toBe(1);
    const closed = l.close();
    await expect(fetch(`http://127.0.0.1:${l.port}/`)).rejects.toThrow();
    release();
    expect(await inFlight).toBe('done');
    await closed;
  });
});
