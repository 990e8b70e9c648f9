import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import type { AuthMountSpec, AuthRoleSpec } from '../model/types.js';

/**
 * Verifies the identity tokens of one JWT auth method, as Vault's JWT auth
 * does: the signature with the issuer's keys (a JWKS found by OIDC discovery
 * or named, or PEM keys), exp/nbf/iat with the role's leeway, the issuer and
 * audience, then the role's bound subject and claims. Signature and time
 * checks are jose's; what Vault adds on top is here.
 */

/** jose refetches the JWKS when a token names a key it does not have, but not more often than this. */
export const JWKS_REFETCH_COOLDOWN_MS = 10_000;
/** And at the latest after this, so a rotated-out key stops being accepted. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
const FETCH_TIMEOUT_MS = 5_000;
const DEFAULT_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

/** A login refused: the message is what the client is told (Vault's words where it has them). */
export class LoginError extends Error {
  override readonly name = 'LoginError';
}

export interface VerifiedIdentity {
  claims: JWTPayload;
  /** The value of the role's user_claim. */
  user: string;
  /** Vault's display_name after the mount's name, when not the user. */
  displayName?: string;
  /** claim_mappings applied: metadata key -> claim value. */
  metadata: Record<string, string>;
}

export class JwtVerifier {
  private keys: Promise<JWTVerifyGetKey | CryptoKey[]> | undefined;

  constructor(
    readonly mount: AuthMountSpec,
    private readonly now: () => number = Date.now,
    private readonly cooldownMs = JWKS_REFETCH_COOLDOWN_MS,
  ) {}

  async verify(token: string, role: AuthRoleSpec): Promise<VerifiedIdentity> {
    const keys = await this.keySource();
    const options = {
      ...(this.mount.bound_issuer !== undefined && { issuer: this.mount.bound_issuer }),
      ...(role.bound_audiences.length > 0 && { audience: role.bound_audiences }),
      algorithms: this.mount.jwt_supported_algs ?? DEFAULT_ALGS,
      // jose has one leeway for exp and nbf; the role's own are checked below.
      clockTolerance: Math.max(role.expiration_leeway, role.not_before_leeway),
      currentDate: new Date(this.now()),
    };
    let claims: JWTPayload;
    try {
      claims = Array.isArray(keys) ? await verifyWithAny(token, keys, options) : (await jwtVerify(token, keys, options)).payload;
    } catch (err) {
      throw new LoginError(describeJoseError(err));
    }
    const now = this.now() / 1000;
    if (claims.exp !== undefined && claims.exp + role.expiration_leeway < now) throw new LoginError('error validating token: token is expired (exp)');
    if (claims.nbf !== undefined && claims.nbf - role.not_before_leeway > now) throw new LoginError('error validating token: token is not valid yet (nbf)');
    if (claims.iat !== undefined && claims.iat - role.clock_skew_leeway > now) throw new LoginError('error validating token: token issued in the future (iat)');
    if (role.bound_service_accounts) return serviceAccount(claims, role.bound_service_accounts);
    if (role.bound_audiences.length === 0 && claims.aud !== undefined) {
      throw new LoginError('audience claim found in JWT but no audiences bound to the role');
    }
    if (role.bound_subject !== undefined && claims.sub !== role.bound_subject) throw new LoginError('sub claim does not match bound subject');
    for (const [claim, accepted] of Object.entries(role.bound_claims)) {
      const value = claimAt(claims, claim);
      if (value === undefined) throw new LoginError(`claim "${claim}" is missing`);
      const values = Array.isArray(value) ? value : [value];
      if (!values.some((v) => accepted.some((a) => claimMatches(v, a, role.bound_claims_type)))) {
        throw new LoginError(`claim "${claim}" does not match any associated bound claim values`);
      }
    }
    const user = claimAt(claims, role.user_claim);
    if (typeof user !== 'string' && typeof user !== 'number') throw new LoginError(`claim "${role.user_claim}" not found in token`);
    const metadata: Record<string, string> = {};
    for (const [claim, key] of Object.entries(role.claim_mappings)) {
      const value = claimAt(claims, claim);
      if (value !== undefined) metadata[key] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    return { claims, user: String(user), metadata };
  }

  private keySource(): Promise<JWTVerifyGetKey | CryptoKey[]> {
    this.keys ??= this.loadKeys().catch((err: unknown) => {
      this.keys = undefined;
      throw err;
    });
    return this.keys;
  }

  private async loadKeys(): Promise<JWTVerifyGetKey | CryptoKey[]> {
    const { mount } = this;
    if (mount.jwt_validation_pubkeys) {
      return Promise.all(mount.jwt_validation_pubkeys.flatMap((pem) => (mount.jwt_supported_algs ?? ['RS256']).map((alg) => importSPKI(pem, alg).catch(() => undefined)))).then(
        (keys) => keys.filter((k): k is CryptoKey => k !== undefined),
      );
    }
    let jwks = mount.jwks_url;
    if (!jwks) {
      const discovery = `${mount.oidc_discovery_url}/.well-known/openid-configuration`;
      const res = await fetch(discovery, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }).catch((err: unknown) => {
        throw new LoginError(`error checking oidc discovery URL: ${discovery}: ${(err as Error).message}`);
      });
      const doc = (await res.json().catch(() => ({}))) as { jwks_uri?: unknown; issuer?: unknown };
      if (!res.ok || typeof doc.jwks_uri !== 'string') throw new LoginError(`error checking oidc discovery URL: ${discovery} answered ${res.status} without a jwks_uri`);
      jwks = doc.jwks_uri;
    }
    return createRemoteJWKSet(new URL(jwks), { cooldownDuration: this.cooldownMs, cacheMaxAge: JWKS_MAX_AGE_MS, timeoutDuration: FETCH_TIMEOUT_MS });
  }
}

async function verifyWithAny(token: string, keys: CryptoKey[], options: Parameters<typeof jwtVerify>[2]): Promise<JWTPayload> {
  let last: unknown = new errors.JWSSignatureVerificationFailed();
  for (const key of keys) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (err) {
      last = err;
      if (!(err instanceof errors.JWSSignatureVerificationFailed) && !(err instanceof errors.JOSEAlgNotAllowed)) throw err;
    }
  }
  throw last;
}

/** Vault's wording for what jose found. */
function describeJoseError(err: unknown): string {
  if (err instanceof LoginError) return err.message;
  if (err instanceof errors.JWTExpired) return 'error validating token: token is expired (exp)';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'error validating claims: invalid audience (aud) claim: audience provided does not match any bound audiences';
    if (err.claim === 'iss') return 'error validating claims: invalid issuer (iss) claim';
    if (err.claim === 'nbf') return 'error validating token: token is not valid yet (nbf)';
    return `error validating claims: ${err.message}`;
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWSSignatureVerificationFailed) return 'error validating token: failed to verify id token signature';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'error validating token: malformed token';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'error validating token: signing algorithm not allowed';
  if (err instanceof errors.JWKSTimeout) return 'error validating token: the JWKS did not answer in time';
  return `error validating token: ${(err as Error).message ?? String(err)}`;
}

/**
 * A Kubernetes service account token's namespace and name (a projected
 * token's `kubernetes.io` claim, or a legacy token's flat claims), checked
 * against the role's bound service accounts with Vault's words.
 */
function serviceAccount(claims: JWTPayload, bound: NonNullable<AuthRoleSpec['bound_service_accounts']>): VerifiedIdentity {
  const k8s = (claims['kubernetes.io'] ?? {}) as { namespace?: string; serviceaccount?: { name?: string; uid?: string } };
  const namespace = k8s.namespace ?? (claims['kubernetes.io/serviceaccount/namespace'] as string | undefined);
  const name = k8s.serviceaccount?.name ?? (claims['kubernetes.io/serviceaccount/service-account.name'] as string | undefined);
  const uid = k8s.serviceaccount?.uid ?? (claims['kubernetes.io/serviceaccount/service-account.uid'] as string | undefined);
  if (!namespace || !name) throw new LoginError('the token is not a Kubernetes service account token (no namespace and service account name)');
  if (!bound.namespaces.some((p) => claimMatches(namespace, p, 'glob'))) throw new LoginError('namespace not authorized');
  if (!bound.names.some((p) => claimMatches(name, p, 'glob'))) throw new LoginError('service account name not authorized');
  const metadata: Record<string, string> = { service_account_name: name, service_account_namespace: namespace, ...(uid && { service_account_uid: uid }) };
  return { claims, user: bound.alias === 'serviceaccount_name' || !uid ? `${namespace}/${name}` : uid, displayName: `${namespace}-${name}`, metadata };
}

/** A claim by name, or by Vault's JSON-pointer form ("/a/b") for a nested one. */
function claimAt(claims: JWTPayload, name: string): unknown {
  if (!name.startsWith('/')) return claims[name];
  let node: unknown = claims;
  for (const token of name.slice(1).split('/')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[token.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

/** A claim value against an accepted one: equal, or with type glob, `*` matching any run of characters. */
function claimMatches(value: unknown, accepted: string | number | boolean, type: 'string' | 'glob'): boolean {
  if (type === 'glob' && typeof accepted === 'string' && typeof value === 'string') {
    const pattern = accepted.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    return new RegExp(`^${pattern}$`, 's').test(value);
  }
  return String(value) === String(accepted);
}
