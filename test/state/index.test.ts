import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { DEFAULT_STATE_URL, openState, stateUrlFrom } from '../../src/state/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credops-url-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('choosing the state', () => {
  it('takes --state over CREDOPS_STATE over the default', () => {
    expect(stateUrlFrom('sqlite:flag.db', { CREDOPS_STATE: 'sqlite:env.db' })).toBe('sqlite:flag.db');
    expect(stateUrlFrom(undefined, { CREDOPS_STATE: 'sqlite:env.db' })).toBe('sqlite:env.db');
    expect(stateUrlFrom(undefined, {})).toBe('sqlite:.credops/state.db');
    expect(stateUrlFrom('', { CREDOPS_STATE: '  ' })).toBe(DEFAULT_STATE_URL);
  });
});

describe('opening a state by URL', () => {
  it('sqlite:PATH is relative to the working directory', async () => {
    const state = await openState('sqlite:sub/state.db', { cwd: dir });
    await state.setSetting('k', 'v');
    await state.close();
    expect(existsSync(join(dir, 'sub/state.db'))).toBe(true);
    expect(state.url).toBe('sqlite:sub/state.db');
  });

  it('the default URL creates .credops/state.db under the working directory', async () => {
    await (await openState(DEFAULT_STATE_URL, { cwd: dir })).close();
    expect(existsSync(join(dir, '.credops/state.db'))).toBe(true);
  });

  it('sqlite:///abs/path is an absolute path', async () => {
    const abs = join(dir, 'abs', 'state.db');
    await (await openState(`sqlite://${abs}`, { cwd: '/nonexistent' })).close();
    expect(existsSync(abs)).toBe(true);
  });

  it('sqlite::memory: writes no file and keeps data for the life of the store', async () => {
    const state = await openState('sqlite::memory:', { cwd: dir });
    await state.apply({ commit: 'c', roles: [], sinks: [], mounts: [] });
    expect((await state.getApplied()).serial).toBe(1);
    await state.close();
    expect(existsSync(join(dir, ':memory:'))).toBe(false);
  });

  it('refuses an unknown scheme, listing the known ones', async () => {
    await expect(openState('postgres:my-table')).rejects.toThrow(UserError);
    await expect(openState('postgres:my-table')).rejects.toThrow(/unknown state backend "postgres".*known: sqlite:, dynamodb:/);
    await expect(openState('state.db')).rejects.toThrow(/must start with a backend scheme.*known: sqlite:/);
  });

  it('refuses a sqlite URL with a host or without a path', async () => {
    await expect(openState('sqlite://server/state.db')).rejects.toThrow(/names a host/);
    await expect(openState('sqlite:')).rejects.toThrow(/has no path/);
  });
});
