import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { decryptSecret, encryptSecret, stateKeyFromEnv } from '../../src/state/crypto.js';

const key = randomBytes(32);
const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('encrypting root keys at rest', () => {
  it('round-trips, and never stores the plaintext or the same blob twice', () => {
    const a = encryptSecret(secret, key);
    const b = encryptSecret(secret, key);
    expect(decryptSecret(a, key)).toBe(secret);
    expect(a).not.toBe(b);
    expect(a).not.toContain(secret);
    expect(Buffer.from(a, 'base64').toString('latin1')).not.toContain(secret);
    expect(Buffer.from(a, 'base64')[0]).toBe(1);
    expect(decryptSecret(encryptSecret('', key), key)).toBe('');
    expect(decryptSecret(encryptSecret('ünïcødé ✓', key), key)).toBe('ünïcødé ✓');
  });

  it('detects any flipped bit, in the iv, the tag or the ciphertext', () => {
    const blob = Buffer.from(encryptSecret(secret, key), 'base64');
    for (let i = 1; i < blob.length; i++) {
      const tampered = Buffer.from(blob);
      tampered[i] = tampered[i]! ^ 0x01;
      expect(() => decryptSecret(tampered.toString('base64'), key)).toThrow(UserError);
    }
  });

  it('refuses a truncated blob, an unknown version, non-base64 text and a wrong key', () => {
    const blob = encryptSecret(secret, key);
    const bytes = Buffer.from(blob, 'base64');
    expect(() => decryptSecret(bytes.subarray(0, 20).toString('base64'), key)).toThrow(/damaged or was written in an unknown format/);
    expect(() => decryptSecret(Buffer.concat([Buffer.from([2]), bytes.subarray(1)]).toString('base64'), key)).toThrow(/unknown format/);
    expect(() => decryptSecret(`${blob}!`, key)).toThrow(UserError);
    expect(() => decryptSecret(blob, randomBytes(32))).toThrow(/not the key it was encrypted with/);
  });

  it('binds a blob to its context: one setting cannot be swapped onto another', () => {
    const blob = encryptSecret(secret, key, 'root/aws');
    expect(decryptSecret(blob, key, 'root/aws')).toBe(secret);
    expect(() => decryptSecret(blob, key, 'root/aws-west')).toThrow(UserError);
    expect(() => decryptSecret(blob, key)).toThrow(UserError);
  });

  it('a key of the wrong size is a bug, not a user error', () => {
    expect(() => encryptSecret(secret, randomBytes(16))).toThrow(/bug: state key must be 32 bytes/);
  });
});

describe('CREDOPS_STATE_KEY', () => {
  it('accepts 32 bytes as base64 (openssl rand -base64 32), base64url, or 64 hex characters', () => {
    expect(stateKeyFromEnv({ CREDOPS_STATE_KEY: key.toString('base64') })).toEqual(key);
    expect(stateKeyFromEnv({ CREDOPS_STATE_KEY: `${key.toString('base64')}\n` })).toEqual(key);
    expect(stateKeyFromEnv({ CREDOPS_STATE_KEY: key.toString('base64url') })).toEqual(key);
    expect(stateKeyFromEnv({ CREDOPS_STATE_KEY: key.toString('hex') })).toEqual(key);
    expect(stateKeyFromEnv({ CREDOPS_STATE_KEY: key.toString('hex').toUpperCase() })).toEqual(key);
  });

  it('derives a stable 32-byte key from a passphrase', () => {
    const a = stateKeyFromEnv({ CREDOPS_STATE_KEY: 'correct horse battery staple' });
    const b = stateKeyFromEnv({ CREDOPS_STATE_KEY: 'correct horse battery staple' });
    const c = stateKeyFromEnv({ CREDOPS_STATE_KEY: 'correct horse battery stapler' });
    expect(a).toHaveLength(32);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(decryptSecret(encryptSecret(secret, a), b)).toBe(secret);
  });

  it('explains how to create a key when it is missing or too weak', () => {
    for (const env of [{}, { CREDOPS_STATE_KEY: '' }, { CREDOPS_STATE_KEY: '   ' }]) {
      expect(() => stateKeyFromEnv(env)).toThrow(UserError);
      expect(() => stateKeyFromEnv(env)).toThrow(/CREDOPS_STATE_KEY is not set.*openssl rand -base64 32/);
    }
    expect(() => stateKeyFromEnv({ CREDOPS_STATE_KEY: 'hunter2' })).toThrow(/at least 16 characters.*openssl rand -base64 32/);
    // 31 bytes of base64 is not a key; short, so not a passphrase either.
    expect(() => stateKeyFromEnv({ CREDOPS_STATE_KEY: randomBytes(8).toString('base64') })).toThrow(UserError);
  });
});
