/**
 * The StateStore contract: everything the interface promises, run against
 * every backend alike (SQLite and DynamoDB). What only one backend has
 * (migrations, the SQLite file) is in its own test file.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { openState } from '../../src/state/index.js';
import type { StateDump, StateStore } from '../../src/state/store.js';
import type { AccessSpec } from '../../src/model/types.js';
import { BACKENDS } from './backends.js';
import { journal, lease, mount, role, sink } from './fixtures.js';

const ACCESS: AccessSpec = {
  auth: [{ name: 'jwt', type: 'jwt', source: 'auth/jwt/config.json', jwks_url: 'https://issuer.example/jwks' }],
  roles: [
    {
      mount: 'jwt',
      name: 'ci',
      source: 'auth/jwt/roles/ci.json',
      bound_audiences: ['credops'],
      bound_claims: { repository: ['org/a'] },
      bound_claims_type: 'string',
      user_claim: 'repository',
      claim_mappings: {},
      token_policies: ['dev'],
      token_ttl: 600,
      token_max_ttl: 3600,
      clock_skew_leeway: 60,
      expiration_leeway: 60,
      not_before_leeway: 60,
      max_issue_rate: { count: 10, periodSeconds: 60 },
    },
  ],
  acl: [{ name: 'dev', source: 'acl/dev.hcl', paths: [{ path: 'aws/creds/dev-*', capabilities: ['read'] }] }],
};

describe.each(BACKENDS.map((make) => [make().name, make] as const))('StateStore contract: %s', (_name, make) => {
  const backend = make();
  let url: string;
  const open: StateStore[] = [];

  async function openAt(at = url): Promise<StateStore> {
    const store = await openState(at);
    open.push(store);
    return store;
  }

  beforeAll(() => backend.start());
  afterAll(() => backend.stop());
  beforeEach(async () => {
    url = await backend.newUrl();
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  describe('opening', () => {
    it('creates a state with an id that stays the same on every open', async () => {
      const a = await openAt();
      expect(a.id).toMatch(/^[0-9a-f]{32}$/);
      expect(a.url).toBe(url);
      const b = await openAt();
      expect(b.id).toBe(a.id);
      expect((await openAt(await backend.newUrl())).id).not.toBe(a.id);
    });

    it('with create: false, a state that does not exist is a NoStateError and nothing is created', async () => {
      const err = await openState(url, { create: false }).catch((e: unknown) => e);
      expect((err as Error).name).toBe('NoStateError');
      expect((await openState(url, { create: false }).catch((e: unknown) => e) as Error).name).toBe('NoStateError');
    });
  });

  describe('applied state', () => {
    it('starts empty at serial 0', async () => {
      const store = await openAt();
      expect(await store.getApplied()).toEqual({ roles: [], staticRoles: [], sinks: [], mounts: [], serial: 0 });
    });

    it('replaces roles, sinks and mounts, records the commit and time, and increments the serial', async () => {
      const store = await openAt();
      const before = Date.now();
      await store.apply({ commit: 'c1', roles: [role('b'), role('a')], sinks: [sink('s1', 'a')], mounts: [mount('aws')] });
      await store.apply({ commit: 'c2', roles: [role('a', { iam_groups: ['ops'] })], sinks: [], mounts: [mount('aws'), mount('aws-west')] });

      const applied = await (await openAt()).getApplied();
      expect(applied.commit).toBe('c2');
      expect(applied.appliedAt).toBeGreaterThanOrEqual(before);
      expect(applied.appliedAt).toBeLessThanOrEqual(Date.now());
      expect(applied.serial).toBe(2);
      expect(applied.roles).toEqual([role('a', { iam_groups: ['ops'] })]);
      expect(applied.sinks).toEqual([]);
      expect(applied.mounts.map((m) => m.name)).toEqual(['aws', 'aws-west']);
    });

    it('replaces the static roles with each apply; an apply without them leaves none', async () => {
      const store = await openAt();
      const vendor = { mount: 'aws', name: 'vendor', source: 'static-roles/vendor.json', username: 'vendor-bot', rotation_period: 86400 };
      const partner = { ...vendor, name: 'partner', source: 'static-roles/partner.json', username: 'partner', assume_role_arn: 'arn:aws:iam::210987654321:role/r' };
      await store.apply({ commit: 'c1', roles: [], staticRoles: [vendor, partner], sinks: [], mounts: [mount('aws')] });
      expect((await (await openAt()).getApplied()).staticRoles).toEqual([vendor, partner]);
      await store.apply({ commit: 'c2', roles: [], staticRoles: [partner], sinks: [], mounts: [mount('aws')] });
      expect((await (await openAt()).getApplied()).staticRoles).toEqual([partner]);
      await store.apply({ commit: 'c3', roles: [], sinks: [], mounts: [mount('aws')] });
      expect((await (await openAt()).getApplied()).staticRoles).toEqual([]);
    });

    it('keeps the order the roles were applied in', async () => {
      const store = await openAt();
      await store.apply({ commit: 'c1', roles: [role('zeta'), role('alpha'), role('mid')], sinks: [], mounts: [] });
      expect((await (await openAt()).getApplied()).roles.map((r) => r.name)).toEqual(['zeta', 'alpha', 'mid']);
    });

    it('applies a snapshot of any size whole: 5,000 roles, then 3', async () => {
      const store = await openAt();
      const many = Array.from({ length: 5000 }, (_, i) => role(`role-${i}`, { description: `r${i}-${'x'.repeat(i % 200)}` } as never));
      await store.apply({ commit: 'big', roles: many, sinks: [], mounts: [mount('aws')] });
      const other = await openAt();
      expect((await other.getApplied()).roles).toEqual(many);
      await store.apply({ commit: 'small', roles: many.slice(0, 3), sinks: [], mounts: [] });
      expect(await other.getApplied()).toMatchObject({ commit: 'small', serial: 2, roles: many.slice(0, 3) });
    });

    it('with expectSerial, applies only if nobody applied in between', async () => {
      const store = await openAt();
      await store.apply({ commit: 'c1', roles: [], sinks: [], mounts: [] });
      const planned = (await store.getApplied()).serial;

      const other = await openAt();
      await other.apply({ commit: 'c2', roles: [role('sneaky')], sinks: [], mounts: [] });

      const err = await store.apply({ commit: 'c3', roles: [], sinks: [], mounts: [], expectSerial: planned }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/state changed since this plan was made.*serial 1.*serial 2/);
      expect((await store.getApplied()).commit).toBe('c2');

      await store.apply({ commit: 'c3', roles: [], sinks: [], mounts: [], expectSerial: 2 });
      expect(await store.getApplied()).toMatchObject({ commit: 'c3', serial: 3, roles: [] });
    });
  });

  describe('leases', () => {
    it('puts, gets, replaces and deletes a lease', async () => {
      const store = await openAt();
      const l = lease('aws/creds/deploy/abc', { sink: 'ci' });
      await store.putLease(l);
      expect(await store.getLease(l.leaseId)).toEqual(l);

      const renewed = { ...l, expiresAt: l.expiresAt + 3_600_000 };
      await store.putLease(renewed);
      expect(await store.getLease(l.leaseId)).toEqual(renewed);
      expect(await store.listLeases()).toHaveLength(1);

      await store.deleteLease(l.leaseId);
      expect(await store.getLease(l.leaseId)).toBeUndefined();
      await store.deleteLease(l.leaseId);
      expect(await store.listLeases()).toEqual([]);
    });

    it('filters by mount, role and sink', async () => {
      const store = await openAt();
      await store.putLease(lease('aws/creds/deploy/1', { sink: 'ci' }));
      await store.putLease(lease('aws/creds/deploy/2'));
      await store.putLease(lease('aws/sts/reader/3'));
      await store.putLease(lease('aws-west/creds/deploy/4', { sink: 'ci' }));

      const ids = async (f: Parameters<StateStore['listLeases']>[0]) => (await store.listLeases(f)).map((l) => l.leaseId);
      expect(await ids({})).toEqual(['aws-west/creds/deploy/4', 'aws/creds/deploy/1', 'aws/creds/deploy/2', 'aws/sts/reader/3']);
      expect(await ids({ mount: 'aws' })).toEqual(['aws/creds/deploy/1', 'aws/creds/deploy/2', 'aws/sts/reader/3']);
      expect(await ids({ role: 'deploy' })).toEqual(['aws-west/creds/deploy/4', 'aws/creds/deploy/1', 'aws/creds/deploy/2']);
      expect(await ids({ mount: 'aws', role: 'deploy' })).toEqual(['aws/creds/deploy/1', 'aws/creds/deploy/2']);
      expect(await ids({ sink: 'ci' })).toEqual(['aws-west/creds/deploy/4', 'aws/creds/deploy/1']);
      expect(await ids({ prefix: 'aws/creds/deploy', sink: 'ci' })).toEqual(['aws/creds/deploy/1']);
    });

    it('matches a prefix character for character: "_" and "%" are not wildcards', async () => {
      const store = await openAt();
      for (const id of ['aws/creds/my_role/1', 'aws/creds/myXrole/2', 'aws/creds/50%off/3', 'aws/creds/50Xoff/4', 'aws/creds/a*b/5', 'aws/creds/aXb/6', 'aws2/creds/x/7']) {
        await store.putLease(lease(id));
      }
      const ids = async (prefix: string) => (await store.listLeases({ prefix })).map((l) => l.leaseId);
      expect(await ids('aws/creds/my_')).toEqual(['aws/creds/my_role/1']);
      expect(await ids('aws/creds/50%')).toEqual(['aws/creds/50%off/3']);
      expect(await ids('aws/creds/a*')).toEqual(['aws/creds/a*b/5']);
      expect(await ids('AWS/creds')).toEqual([]);
      // Vault's revoke-prefix is a plain string prefix: "aws" also matches the aws2 mount.
      expect(await ids('aws')).toHaveLength(7);
      expect(await ids('aws/')).toHaveLength(6);
    });

    it('lists the leases due by a time: by expiry, or by the revokeAt of a replaced credential', async () => {
      const store = await openAt();
      await store.putLease(lease('aws/creds/deploy/early', { expiresAt: 1_000 }));
      await store.putLease(lease('aws/creds/deploy/late', { expiresAt: 9_000 }));
      await store.putLease(lease('aws/creds/deploy/replaced', { expiresAt: 9_000, revokeAt: 2_000 }));
      const due = async (t: number) => (await store.listLeases({ dueBy: t })).map((l) => l.leaseId);
      expect(await due(500)).toEqual([]);
      expect(await due(1_000)).toEqual(['aws/creds/deploy/early']);
      expect(await due(2_000)).toEqual(['aws/creds/deploy/early', 'aws/creds/deploy/replaced']);
      expect(await due(10_000)).toHaveLength(3);
      await store.putLease(lease('aws/creds/deploy/early', { expiresAt: 5_000 }));
      expect(await due(2_000)).toEqual(['aws/creds/deploy/replaced']);
    });

    it('reads every lease and sink status together', async () => {
      const store = await openAt();
      await store.putLease(lease('aws/creds/deploy/1', { sink: 'ci' }));
      await store.setSinkStatus('ci', { lastSuccessAt: 5 });
      await store.setSetting('root/aws', 'ciphertext');
      await store.putJournal(journal('j', 'aws/creds/deploy/2'));
      expect(await store.listLeasesAndSinkStatus()).toEqual({ leases: [lease('aws/creds/deploy/1', { sink: 'ci' })], sinkStatus: { ci: { lastSuccessAt: 5 } } });
    });
  });

  describe('journal', () => {
    it('records entries in creation order and deletes them', async () => {
      const store = await openAt();
      await store.putJournal(journal('j2', 'aws/creds/deploy/2', 2_000));
      await store.putJournal(journal('j1', 'aws/creds/deploy/1', 1_000));
      expect((await store.listJournal()).map((j) => j.id)).toEqual(['j1', 'j2']);
      expect((await store.listJournal())[0]).toEqual(journal('j1', 'aws/creds/deploy/1', 1_000));

      // Progress through the steps updates the same entry.
      await store.putJournal({ ...journal('j1', 'aws/creds/deploy/1', 1_000), data: { userName: 'u', accessKeyId: 'AKIA1' } });
      expect((await store.listJournal()).find((j) => j.id === 'j1')?.data).toEqual({ userName: 'u', accessKeyId: 'AKIA1' });

      await store.deleteJournal('j2');
      expect((await store.listJournal()).map((j) => j.id)).toEqual(['j1']);
    });

    it('completeJournal turns an entry into a lease', async () => {
      const store = await openAt();
      const l = lease('aws/creds/deploy/1');
      await store.putJournal(journal('j1', l.leaseId));
      await store.completeJournal('j1', l);
      expect(await store.listJournal()).toEqual([]);
      expect(await store.getLease(l.leaseId)).toEqual(l);
    });

    it("keeps a server issuance's liveUntil", async () => {
      const store = await openAt();
      await store.putJournal({ ...journal('j1', 'aws/creds/deploy/1', 1_000), liveUntil: 121_000 });
      await store.putJournal(journal('j2', 'aws/creds/deploy/2', 2_000));
      expect((await store.listJournal()).map((j) => j.liveUntil)).toEqual([121_000, undefined]);
    });

    it('completeJournal of an entry already recovered by another run records no lease', async () => {
      const store = await openAt();
      const l = lease('aws/creds/deploy/1');
      await store.putJournal(journal('j1', l.leaseId));
      await store.deleteJournal('j1');
      await expect(store.completeJournal('j1', l)).rejects.toThrow(/j1 not found/);
      expect(await store.getLease(l.leaseId)).toBeUndefined();
    });

    it('completeJournal whose lease cannot be written keeps the journal entry', async () => {
      const store = await openAt();
      await store.putJournal(journal('j1', 'aws/creds/deploy/1'));
      const broken = { ...lease('aws/creds/deploy/1'), expiresAt: null } as unknown as ReturnType<typeof lease>;
      await expect(store.completeJournal('j1', broken)).rejects.toThrow();
      expect((await store.listJournal()).map((j) => j.id)).toEqual(['j1']);
      expect(await store.listLeases()).toEqual([]);
    });
  });

  describe('settings and sink status', () => {
    it('sets, replaces, reads and deletes settings', async () => {
      const store = await openAt();
      expect(await store.getSetting('root/aws')).toBeUndefined();
      await store.setSetting('root/aws', 'blob-1');
      await store.setSetting('root/aws', 'blob-2');
      expect(await store.getSetting('root/aws')).toBe('blob-2');
      await store.deleteSetting('root/aws');
      expect(await store.getSetting('root/aws')).toBeUndefined();
    });

    it('lists the settings under a prefix', async () => {
      const store = await openAt();
      await store.setSetting('server/token/aa', '1');
      await store.setSetting('server/token/bb', '2');
      await store.setSetting('server/tokenx', '3');
      await store.setSetting('root/aws', '4');
      expect(await store.listSettings('server/token/')).toEqual({ 'server/token/aa': '1', 'server/token/bb': '2' });
      expect(await store.listSettings('nothing/')).toEqual({});
    });

    it('keeps each sink status', async () => {
      const store = await openAt();
      expect(await store.listSinkStatus()).toEqual({});
      expect(await store.getSinkStatus('ci')).toBeUndefined();
      await store.setSinkStatus('ci', { lastAttemptAt: 5, lastError: 'AccessDenied' });
      await store.setSinkStatus('ci', { lastAttemptAt: 6, lastSuccessAt: 6 });
      await store.setSinkStatus('other', { lastAttemptAt: 1 });
      expect(await store.getSinkStatus('ci')).toEqual({ lastAttemptAt: 6, lastSuccessAt: 6 });
      expect(await store.listSinkStatus()).toEqual({ ci: { lastAttemptAt: 6, lastSuccessAt: 6 }, other: { lastAttemptAt: 1 } });
      expect(await store.getSinkStatus('other')).toEqual({ lastAttemptAt: 1 });
    });

    it('persists everything across reopening', async () => {
      const store = await openAt();
      await store.setSetting('k', 'v');
      await store.putLease(lease('aws/creds/deploy/1'));
      await store.putJournal(journal('j', 'aws/creds/deploy/2'));
      await store.setSinkStatus('ci', { lastSuccessAt: 9 });
      await store.close();

      const again = await openAt();
      expect(await again.getSetting('k')).toBe('v');
      expect(await again.getLease('aws/creds/deploy/1')).toEqual(lease('aws/creds/deploy/1'));
      expect((await again.listJournal()).map((j) => j.id)).toEqual(['j']);
      expect(await again.getSinkStatus('ci')).toEqual({ lastSuccessAt: 9 });
    });
  });

  describe('counters', () => {
    it('add within bounds in one atomic step, and refuse past them', async () => {
      const store = await openAt();
      expect(await store.getCounter('role/aws/x/live')).toBe(0);
      expect(await store.addToCounter('role/aws/x/live', 1, { max: 2 })).toBe(true);
      expect(await store.addToCounter('role/aws/x/live', 1, { max: 2 })).toBe(true);
      expect(await store.addToCounter('role/aws/x/live', 1, { max: 2 })).toBe(false);
      expect(await store.getCounter('role/aws/x/live')).toBe(2);
      expect(await store.addToCounter('role/aws/x/live', -1, { min: 0 })).toBe(true);
      expect(await store.addToCounter('role/aws/x/live', -1, { min: 0 })).toBe(true);
      expect(await store.addToCounter('role/aws/x/live', -1, { min: 0 })).toBe(false);
      expect(await store.getCounter('role/aws/x/live')).toBe(0);
    });

    it('never let concurrent writers from two handles pass the bound', async () => {
      const [a, b] = [await openAt(), await openAt()];
      const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).addToCounter('token/t1/live', 1, { max: 5 })));
      expect(results.filter(Boolean)).toHaveLength(5);
      expect(await a.getCounter('token/t1/live')).toBe(5);
    });

    it('set a recount only when the counter did not move, and forget a window after it ends', async () => {
      const store = await openAt();
      await store.addToCounter('role/aws/y/live', 3);
      expect(await store.setCounter('role/aws/y/live', 1, 2)).toBe(false);
      expect(await store.setCounter('role/aws/y/live', 1, 3)).toBe(true);
      expect(await store.getCounter('role/aws/y/live')).toBe(1);
      expect(await store.setCounter('role/aws/new/live', 4, 0)).toBe(true);
      await store.addToCounter('role/aws/y/rate/1', 1, { max: 10, expiresAt: Date.now() - 1 });
      expect(await store.getCounter('role/aws/y/rate/1')).toBe(0);
      await store.deleteCounter('role/aws/y/live');
      expect(await store.getCounter('role/aws/y/live')).toBe(0);
    });
  });

  describe('lock', () => {
    const owner = (operation: string) => ({ pid: process.pid, host: 'this-host', since: Date.parse('2026-11-23T15:40:00Z'), operation });

    it('is exclusive, names its holder, and is free again after release', async () => {
      const a = await openAt();
      const b = await openAt();
      expect(await a.lockHolder()).toBeUndefined();
      const handle = await a.lock(owner('reconcile'), 0);
      expect(await b.lockHolder()).toMatchObject(owner('reconcile'));

      const started = Date.now();
      const err = await b.lock(owner('lease revoke'), 500).catch((e: unknown) => e);
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
      expect((err as Error).name).toBe('LockError');
      expect((err as Error).message).toContain(`state is locked by reconcile (pid ${process.pid} on host this-host, since 2026-11-23T15:40:00Z); waited 0.5s.`);
      expect((err as Error).message).toContain(`credops state unlock --force ${(await b.lockHolder())!.id}`);

      await handle.release();
      await handle.release();
      expect(await b.lockHolder()).toBeUndefined();
      const second = await b.lock(owner('lease revoke'), 0);
      expect((await a.lockHolder())?.operation).toBe('lease revoke');
      await second.release();
    });

    it('a waiting lock() gets the lock as soon as the holder releases it', async () => {
      const a = await openAt();
      const b = await openAt();
      const handle = await a.lock(owner('reconcile'), 0);
      setTimeout(() => void handle.release(), 300);
      const next = await b.lock(owner('watch'), 5_000);
      expect((await a.lockHolder())?.operation).toBe('watch');
      await next.release();
    });

    it('close() releases the lock taken through that store', async () => {
      const a = await openAt();
      await a.lock(owner('reconcile'), 0);
      await a.close();
      const b = await openAt();
      expect(await b.lockHolder()).toBeUndefined();
    });

    it('force-unlock removes exactly the named lock', async () => {
      const a = await openAt();
      const b = await openAt();
      await a.lock(owner('reconcile'), 0);
      const id = (await b.lockHolder())!.id!;
      expect(await b.forceUnlock('not-the-lock')).toBe(false);
      expect((await b.lockHolder())?.operation).toBe('reconcile');
      expect(await b.forceUnlock(id)).toBe(true);
      expect(await b.lockHolder()).toBeUndefined();
      const taken = await b.lock(owner('lease revoke'), 0);
      await taken.release();
    });
  });

  describe('copy and move', () => {
    async function filled(store: StateStore): Promise<void> {
      await store.apply({ commit: 'abc123', roles: [role('deploy'), role('reader')], sinks: [sink('ci', 'deploy')], mounts: [mount('aws')] });
      await store.apply({
        commit: 'def456',
        roles: [role('deploy')],
        staticRoles: [{ mount: 'aws', name: 'vendor', source: 'static-roles/vendor.json', username: 'vendor-bot', rotation_period: 3600 }],
        sinks: [sink('ci', 'deploy')],
        mounts: [mount('aws')],
        access: ACCESS,
      });
      await store.setSetting('static-creds/aws/vendor', '{"username":"vendor-bot","access_key_id":"AKIA1","secret_access_key":"v1:ciphertext"}');
      await store.putLease(lease('aws/creds/deploy/1', { sink: 'ci' }));
      await store.putLease(lease('aws/sts/reader/2'));
      await store.putJournal(journal('j1', 'aws/creds/deploy/3'));
      await store.setSetting('root/aws', 'v1:ciphertext');
      await store.setSinkStatus('ci', { lastSuccessAt: 7 });
    }

    it('exports everything, and imports it into an empty state of either backend unchanged, id and serial included', async () => {
      const source = await openAt();
      await filled(source);
      const dump = await source.exportAll();
      expect(dump).toMatchObject({ id: source.id, serial: 2, commit: 'def456', settings: { 'root/aws': 'v1:ciphertext' }, sinkStatus: { ci: { lastSuccessAt: 7 } } });
      expect(dump.staticRoles?.map((s) => s.name)).toEqual(['vendor']);
      expect(dump.access).toEqual(ACCESS);
      expect(Object.keys(dump.settings)).toContain('static-creds/aws/vendor');
      expect(dump.leases).toHaveLength(2);
      expect(dump.journal).toHaveLength(1);

      for (const other of BACKENDS.map((m) => m())) {
        await other.start();
        try {
          const target = await openAt(await other.newUrl());
          await target.importAll(dump);
          expect(target.id).toBe(source.id);
          expect(await target.exportAll()).toEqual(dump);
          const reopened = await openAt(target.url);
          expect(reopened.id).toBe(source.id);
          expect(await reopened.getApplied()).toEqual(await source.getApplied());
        } finally {
          for (const s of open.splice(1)) await s.close();
          await other.stop();
        }
      }
    });

    it('refuses to import into a state that is not empty', async () => {
      const store = await openAt();
      await store.putLease(lease('aws/creds/deploy/1'));
      const dump: StateDump = { id: 'x', serial: 0, roles: [], sinks: [], mounts: [], leases: [], journal: [], settings: {}, sinkStatus: {} };
      await expect(store.importAll(dump)).rejects.toThrow(/is not empty.*only be copied into an empty one/);
      expect(store.id).not.toBe('x');
    });

    it('a moved state refuses to open, naming where it went; state show may still open it', async () => {
      const store = await openAt();
      await store.markMoved('dynamodb://credops-state/prod');
      await store.close();
      const err = await openState(url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/was moved to dynamodb:\/\/credops-state\/prod by credops state migrate at \d{4}-.*; nothing was done\. Use --state dynamodb:\/\/credops-state\/prod/);
      const shown = await openState(url, { allowMoved: true });
      open.push(shown);
      expect(shown.movedTo?.url).toBe('dynamodb://credops-state/prod');
    });
  });
});
