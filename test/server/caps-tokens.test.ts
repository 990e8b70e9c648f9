/**
 * credops server's caps and tokens over a real state (a SQLite file, opened
 * twice as two replicas would): reservations, their release and recount, and
 * tokens kept only as HMACs, capped at their max, forgotten when expired.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/store.js';
import { recountRoleCaps, reserve } from '../../src/server/caps.js';
import { TokenStore } from '../../src/server/tokens.js';
import { journal, lease } from '../state/fixtures.js';

let dir: string;
let a: StateStore;
let b: StateStore;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'credops-caps-'));
  a = await openState(`sqlite:${join(dir, 'state.db')}`);
  b = await openState(`sqlite:${join(dir, 'state.db')}`);
});
afterEach(async () => {
  await a.close();
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

const ROLE = { what: 'role aws/dev', key: 'role/aws/dev', maxLeases: 3 };

describe('caps', () => {
  it('hand out exactly max_leases places to concurrent issuers on two handles, and take back a released one', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => reserve(i % 2 ? a : b, [ROLE], Date.now())));
    const granted = results.filter((r) => r.ok);
    expect(granted).toHaveLength(3);
    expect(results.find((r) => !r.ok)).toEqual({ ok: false, reason: 'role aws/dev reached its max_leases of 3 live leases; revoke one or wait for one to expire' });
    expect(granted[0]!.ok && granted[0]!.counters).toEqual(['role/aws/dev/live']);
    if (granted[0]!.ok) await granted[0]!.release();
    expect((await reserve(a, [ROLE], Date.now())).ok).toBe(true);
  });

  it('count issuances per fixed window of the rate, and gives nothing back to a rate', async () => {
    const rate = { what: 'this token', key: 'token/t1', rate: { count: 2, periodSeconds: 60 } };
    const start = 1_800_000_000_000; // the start of a minute
    expect((await reserve(a, [rate], start)).ok).toBe(true);
    const second = await reserve(b, [rate], start + 1_000);
    expect(second.ok).toBe(true);
    expect(await reserve(a, [rate], start + 59_000)).toEqual({ ok: false, reason: 'this token reached its max_issue_rate of 2/m; try again in 1s' });
    if (second.ok) await second.release();
    expect((await reserve(a, [rate], start + 59_500)).ok).toBe(false);
    expect((await reserve(a, [rate], start + 60_000)).ok).toBe(true);
  });

  it('take no place of one cap when another refuses', async () => {
    const full = { what: 'this token', key: 'token/t2', maxLeases: 0 + 1 };
    expect((await reserve(a, [full], Date.now())).ok).toBe(true);
    expect((await reserve(a, [ROLE, full], Date.now())).ok).toBe(false);
    expect(await a.getCounter('role/aws/dev/live')).toBe(0);
  });

  it("recount a role's places from its leases and live issuances, giving back what a crash left taken", async () => {
    await a.addToCounter('role/aws/dev/live', 5);
    await a.putLease(lease('aws/creds/dev/1', { role: 'dev', counters: ['role/aws/dev/live'] }));
    await a.putLease(lease('aws/creds/dev/2', { role: 'dev' }));
    await a.putJournal({ ...journal('j1', 'aws/creds/dev/3'), role: 'dev', liveUntil: Date.now() + 60_000 });
    expect(await recountRoleCaps(a, [{ mount: 'aws', name: 'dev', max_leases: 3 }, { mount: 'aws', name: 'other' }])).toBe(1);
    expect(await a.getCounter('role/aws/dev/live')).toBe(2);
    expect(await recountRoleCaps(a, [{ mount: 'aws', name: 'dev', max_leases: 3 }])).toBe(0);
  });
});

describe('tokens', () => {
  it('are kept only as an HMAC, renew up to their max, and are refused once revoked or expired', async () => {
    let now = 1_800_000_000_000;
    const tokens = new TokenStore(a, { CREDOPS_STATE_KEY: 'a-passphrase-of-the-test-state' }, () => now);
    const { token, record } = await tokens.create({
      authRole: 'jwt/ci', displayName: 'jwt-org/a', user: 'org/a', policies: ['dev'], metadata: {},
      issuedAt: now, expiresAt: now + 600_000, maxExpiresAt: now + 3_600_000, ttl: 600, path: 'auth/jwt/login',
    });
    expect(token).toMatch(/^cos\.[\w-]{43}$/);
    expect(await tokens.lookup(token)).toEqual(record);
    expect(await tokens.lookup(`${token}x`)).toBeUndefined();
    // The other replica's handle reads the same token.
    expect(await new TokenStore(b, { CREDOPS_STATE_KEY: 'a-passphrase-of-the-test-state' }, () => now).lookup(token)).toEqual(record);
    const stored = JSON.stringify(await a.exportAll());
    expect(stored).not.toContain(token.slice(4));
    expect(readFileSync(join(dir, 'state.db')).includes(token.slice(4))).toBe(false);

    now += 3_500_000;
    const renewed = await tokens.renew(token, record, 600);
    expect(renewed.expiresAt).toBe(record.maxExpiresAt);
    now = record.maxExpiresAt;
    expect(await tokens.lookup(token)).toBeUndefined();
    expect(await tokens.forgetExpired()).toEqual([record.accessor]);
    expect(await a.listSettings('server/')).toEqual({});

    const second = await tokens.create({ ...record, issuedAt: now, expiresAt: now + 1000, maxExpiresAt: now + 1000 });
    expect(await tokens.lookupByAccessor(second.record.accessor)).toEqual(second.record);
    await tokens.revoke(second.token, second.record);
    expect(await tokens.lookup(second.token)).toBeUndefined();
    expect(await tokens.lookupByAccessor(second.record.accessor)).toBeUndefined();
    expect(await a.listSettings('server/')).toEqual({});
  });
});
