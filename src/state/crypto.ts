import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { UserError } from '../errors.js';

/**
 * Encryption at rest for the secrets the state keeps (stored root keys,
 * DESIGN invariant 2): AES-256-GCM under CREDOPS_STATE_KEY.
 *
 * Blob: base64( version(1) | iv(12) | tag(16) | ciphertext ). The version byte
 * lets a later format (another cipher, a key id) coexist with this one.
 */
const FORMAT_V1 = 1;
const KEY_BYTES = 32;
/** 96-bit IV: GCM's native size (NIST SP 800-38D); random per message, never reused with one key. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

export const STATE_KEY_ENV = 'CREDOPS_STATE_KEY';

const PASSPHRASE_MIN_CHARS = 16;
const PASSPHRASE_SALT = 'credops/state-key/v1';
/** ~100 ms per derivation (done once per command). Needs 128*N*r = 32 MiB, at Node's default cap: hence maxmem. */
const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * `context`, when given, is authenticated (GCM additional data) but not stored:
 * pass the setting's name so that a blob copied onto another setting (one
 * mount's root key onto another's) fails to decrypt instead of being used.
 */
export function encryptSecret(plaintext: string, key: Buffer, context = ''): string {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), ciphertext]).toString('base64');
}

export function decryptSecret(blob: string, key: Buffer, context = ''): string {
  assertKey(key);
  const bytes = Buffer.from(blob, 'base64');
  if (bytes.length < HEADER_BYTES || bytes[0] !== FORMAT_V1 || bytes.toString('base64') !== blob) {
    throw new UserError('an encrypted value in the state is damaged or was written in an unknown format; set it again');
  }
  const iv = bytes.subarray(1, 1 + IV_BYTES);
  const tag = bytes.subarray(1 + IV_BYTES, HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(context));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES)), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new UserError(
      `cannot decrypt a value in the state: ${STATE_KEY_ENV} is not the key it was encrypted with, or the value was tampered with`,
      { cause: err },
    );
  }
}

/**
 * The state key from CREDOPS_STATE_KEY:
 * - 32 random bytes, as base64 (`openssl rand -base64 32`) or 64 hex characters
 *   (`openssl rand -hex 32`): used as is. This is the recommended form.
 * - anything else is a passphrase, stretched with scrypt (N=2^15, r=8, p=1).
 *   The salt is fixed per purpose, not random: the key must be derivable from
 *   the environment alone in every CI run, and there is nowhere safe to keep a
 *   per-state salt before the key exists. The cost is that equal passphrases give
 *   equal keys everywhere, so a passphrase must be long and unique; a random key
 *   does not have that weakness.
 */
export function stateKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer {
  const value = env[STATE_KEY_ENV]?.trim();
  if (!value) {
    throw new UserError(
      `${STATE_KEY_ENV} is not set: it is the key that encrypts root credentials in the state. ` +
        `Create one with \`openssl rand -base64 32\`, keep it in your CI secrets, and export ${STATE_KEY_ENV}=<that value>`,
    );
  }
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  const raw = rawBase64Key(value);
  if (raw) return raw;
  if (value.length < PASSPHRASE_MIN_CHARS) {
    throw new UserError(
      `${STATE_KEY_ENV} is neither 32 bytes in base64 or hex nor a passphrase of at least ${PASSPHRASE_MIN_CHARS} characters; ` +
        'create a key with `openssl rand -base64 32`',
    );
  }
  return scryptSync(value.normalize('NFC'), PASSPHRASE_SALT, KEY_BYTES, SCRYPT_PARAMS);
}

function rawBase64Key(value: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) return undefined;
  const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === KEY_BYTES ? bytes : undefined;
}

function aad(context: string): Buffer {
  return Buffer.from(`credops:${context}`, 'utf8');
}

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`bug: state key must be ${KEY_BYTES} bytes, got ${key.length}`);
}
