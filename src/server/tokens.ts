import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { StateStore } from '../state/store.js';
import { STATE_KEY_ENV } from '../state/crypto.js';

/**
 * credops server's tokens (Vault's service tokens): 256 random bits, given to
 * the client once and kept in the state only as an HMAC, beside an accessor
 * (Vault's: an id that names the token in logs and the audit without being
 * it). A token has a TTL, is renewable up to its max, and its leases never
 * outlive it (engine/index.ts boundToAsker).
 */

const TOKEN_SETTING = 'server/token/';
/** accessor -> the token's setting key: how a lease's owner is found (the accessor is no secret). */
const ACCESSOR_SETTING = 'server/accessor/';
const TOKEN_PREFIX = 'cos.';

export interface TokenRecord {
  accessor: string;
  /** The auth role that issued it: `jwt/ci`. */
  authRole: string;
  /** Vault's display_name: `jwt-` and the user_claim's value. */
  displayName: string;
  /** The user_claim's value (the audit's identity). */
  user: string;
  policies: string[];
  metadata: Record<string, string>;
  /** Epoch ms. */
  issuedAt: number;
  expiresAt: number;
  maxExpiresAt: number;
  /** The role's token_ttl in seconds: what renew-self extends by when no increment is given. */
  ttl: number;
  /** Vault's path: `auth/jwt/login`. */
  path: string;
}

export class TokenStore {
  private readonly key: Buffer;

  /**
   * The HMAC key: derived from CREDOPS_STATE_KEY when it is set (then a copy
   * of the state alone cannot even test a guess); otherwise from the state's
   * id, which still hides nothing a 256-bit random token needs hidden.
   */
  constructor(
    private readonly state: StateStore,
    env: NodeJS.ProcessEnv,
    private readonly now: () => number,
  ) {
    const secret = env[STATE_KEY_ENV];
    this.key = secret
      ? Buffer.from(hkdfSync('sha256', secret, state.id, 'credops server token hmac', 32))
      : createHash('sha256').update(`credops server token hmac\0${state.id}`).digest();
  }

  /** A new token for this record; the token itself is returned once and never stored. */
  async create(record: Omit<TokenRecord, 'accessor'>): Promise<{ token: string; record: TokenRecord }> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const full: TokenRecord = { ...record, accessor: randomBytes(18).toString('base64url') };
    await this.state.setSetting(ACCESSOR_SETTING + full.accessor, this.settingOf(token));
    await this.state.setSetting(this.settingOf(token), JSON.stringify(full));
    return { token, record: full };
  }

  /** The live record of a token, or undefined (unknown, revoked or expired). */
  async lookup(token: string): Promise<TokenRecord | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const raw = await this.state.getSetting(this.settingOf(token));
    if (raw === undefined) return undefined;
    const record = JSON.parse(raw) as TokenRecord;
    return record.expiresAt > this.now() ? record : undefined;
  }

  /** The live record of the token with this accessor (a lease's owner), or undefined. */
  async lookupByAccessor(accessor: string): Promise<TokenRecord | undefined> {
    const key = await this.state.getSetting(ACCESSOR_SETTING + accessor);
    const raw = key === undefined ? undefined : await this.state.getSetting(key);
    const record = raw === undefined ? undefined : (JSON.parse(raw) as TokenRecord);
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  /** Extends the token by `increment` seconds from now (default its ttl), never past its max. */
  async renew(token: string, record: TokenRecord, increment?: number): Promise<TokenRecord> {
    const renewed = { ...record, expiresAt: Math.min(this.now() + (increment ?? record.ttl) * 1000, record.maxExpiresAt) };
    await this.state.setSetting(this.settingOf(token), JSON.stringify(renewed));
    return renewed;
  }

  async revoke(token: string, record: TokenRecord): Promise<void> {
    await this.state.deleteSetting(this.settingOf(token));
    await this.state.deleteSetting(ACCESSOR_SETTING + record.accessor);
  }

  /** Tokens past their expiry: forgotten (their leases ended with them), by the reconciling replica. */
  async forgetExpired(): Promise<string[]> {
    const gone: string[] = [];
    for (const [key, raw] of Object.entries(await this.state.listSettings(TOKEN_SETTING))) {
      const record = JSON.parse(raw) as TokenRecord;
      if (record.expiresAt > this.now()) continue;
      await this.state.deleteSetting(key);
      await this.state.deleteSetting(ACCESSOR_SETTING + record.accessor);
      gone.push(record.accessor);
    }
    return gone;
  }

  private settingOf(token: string): string {
    return TOKEN_SETTING + createHmac('sha256', this.key).update(token).digest('hex');
  }
}
