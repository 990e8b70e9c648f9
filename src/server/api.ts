import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../duration.js';
import { errorMessage, UserError } from '../errors.js';
import type { BulkRevokeResult, Engine, IssuedCredential } from '../engine/index.js';
import type { AppliedSnapshot, AuthRoleSpec } from '../model/types.js';
import { Acl, authRoleAddress, policiesOf, type Capability } from '../plan/acl.js';
import { currentStaticKey } from '../state/static-creds.js';
import type { StateStore } from '../state/store.js';
import type { AuditAuth, AuditEntry, Outcome, RequestAudit } from './audit.js';
import { reserve, type CapSpec } from './caps.js';
import { JwtVerifier, LoginError } from './jwt.js';
import type { TokenRecord, TokenStore } from './tokens.js';

/**
 * The part of Vault's HTTP API that users of its AWS secrets engine call,
 * spelled as Vault spells it, so that hvac, node-vault, the Vault CLI and
 * curl scripts work unchanged: the JSON envelope, `{"errors": [...]}` with
 * Vault's status codes, X-Vault-Token (or `Authorization: Bearer`).
 */

export interface ApiDeps {
  state: StateStore;
  engine: Engine;
  tokens: TokenStore;
  audit: RequestAudit;
  /** The applied snapshot (roles, access), refreshed by the server. */
  applied(): Promise<AppliedSnapshot>;
  /** Whether this replica runs the reconcile loop (Vault's active node). */
  isLeader(): boolean;
  now(): number;
  env: NodeJS.ProcessEnv;
  version: string;
}

/** A request refused: Vault's status and message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly outcome: Outcome = status === 403 ? 'denied' : status === 429 ? 'rate_limited' : status >= 500 ? 'error' : 'invalid',
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 1024 * 1024;
const PERMISSION_DENIED = 'permission denied';

interface Call {
  req: IncomingMessage;
  method: string;
  /** The path after /v1/, without a trailing slash's meaning lost: `aws/creds/dev`. */
  path: string;
  params: Record<string, unknown>;
  query: URLSearchParams;
  entry: AuditEntry;
  token?: { token: string; record: TokenRecord; acl: Acl };
}

interface Reply {
  status: number;
  body?: unknown;
}

export class VaultApi {
  private readonly verifiers = new Map<string, JwtVerifier>();
  private aclCache: { serial: number; byPolicies: Map<string, Acl> } = { serial: -1, byPolicies: new Map() };

  constructor(private readonly deps: ApiDeps) {}

  /** Handles one HTTP request; never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry: AuditEntry = {
      request: { id: randomUUID(), operation: operationOf(req.method ?? 'GET'), path: '', remote_address: req.socket.remoteAddress },
      response: { status: 0 },
      outcome: 'ok',
    };
    let reply: Reply;
    try {
      const url = new URL(req.url ?? '/', 'http://credops');
      const list = req.method === 'LIST' || (req.method === 'GET' && url.searchParams.get('list') === 'true');
      const method = list ? 'LIST' : (req.method ?? 'GET');
      entry.request.operation = operationOf(method);
      entry.request.path = url.pathname.replace(/^\/v1\//, '');
      let path: string;
      try {
        path = decodeURIComponent(entry.request.path);
      } catch {
        throw new ApiError(400, 'the request path is not valid percent-encoding');
      }
      entry.request.path = path;
      if (!url.pathname.startsWith('/v1/')) throw new ApiError(404, 'not found');
      const body = method === 'GET' || method === 'HEAD' || method === 'LIST' ? {} : await readJson(req);
      const params = { ...Object.fromEntries(url.searchParams), ...body };
      reply = await this.route({ req, method, path, params, query: url.searchParams, entry });
    } catch (err) {
      const apiErr = toApiError(err);
      entry.outcome = apiErr.outcome;
      entry.error = apiErr.message;
      reply = { status: apiErr.status, body: { errors: apiErr.status === 404 && apiErr.message === 'not found' ? [] : [apiErr.message] } };
    }
    entry.response.status = reply.status;
    try {
      // As in Vault, the health check (probes, every few seconds) is not audited.
      if (entry.request.path !== 'sys/health') this.deps.audit.record(entry);
    } catch (err) {
      // An audit entry that cannot be written is a refused request, as in Vault.
      reply = { status: 500, body: { errors: [`audit: ${errorMessage(err)}`] } };
    }
    send(res, reply, req.method === 'HEAD');
  }

  private async route(call: Call): Promise<Reply> {
    const { method, path } = call;
    if (path === 'sys/health') return this.health(call);
    const login = /^auth\/([^/]+)\/login$/.exec(path);
    if (login) return this.login(call, login[1]!);

    call.token = await this.authenticate(call);
    const tokenOp = /^auth\/token\/(lookup-self|renew-self|revoke-self)$/.exec(path);
    if (tokenOp) return this.tokenSelf(call, tokenOp[1] as 'lookup-self' | 'renew-self' | 'revoke-self');

    const leaseOp = /^sys\/(?:leases\/)?(lookup|renew|revoke|revoke-prefix)(?:\/(.*))?$/.exec(path);
    if (leaseOp) return this.leases(call, leaseOp[1] as 'lookup' | 'renew' | 'revoke' | 'revoke-prefix', leaseOp[2]);

    const cred = /^([^/]+(?:\/[^/]+)*?)\/(creds|sts|static-creds)\/([^/]+)$/.exec(path);
    if (cred) {
      if (method !== 'GET' && method !== 'PUT' && method !== 'POST') throw new ApiError(405, `unsupported operation ${method} on ${path}`);
      return this.credentials(call, cred[1]!, cred[2] as 'creds' | 'sts' | 'static-creds', cred[3]!);
    }
    throw new ApiError(404, `no handler for route "${path}"; credops serves MOUNT/creds|sts|static-creds/NAME, sys/leases/*, auth/MOUNT/login, auth/token/*-self and sys/health`);
  }

  // ---- sys/health ------------------------------------------------------------

  /** Vault's codes: 200 active, 429 standby (unless standbyok); this replica is active when it reconciles. */
  private async health(call: Call): Promise<Reply> {
    const leader = this.deps.isLeader();
    const applied = await this.deps.applied().catch(() => undefined);
    const standbyOk = ['', 'true', '1'].includes(call.query.get('standbyok') ?? 'no');
    const status = !applied ? Number(call.query.get('sealedcode') ?? 503) : leader || standbyOk ? Number(call.query.get('activecode') ?? 200) : Number(call.query.get('standbycode') ?? 429);
    return {
      status,
      body: {
        initialized: true,
        sealed: !applied,
        standby: !leader,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(this.deps.now() / 1000),
        version: `credops ${this.deps.version}`,
        cluster_name: 'credops',
        cluster_id: this.deps.state.id,
      },
    };
  }

  // ---- auth ------------------------------------------------------------------

  private async login(call: Call, mountName: string): Promise<Reply> {
    if (call.method !== 'POST' && call.method !== 'PUT') throw new ApiError(405, `unsupported operation ${call.method} on ${call.path}`);
    const applied = await this.deps.applied();
    const mount = applied.access?.auth.find((m) => m.name === mountName);
    if (!mount) throw new ApiError(400, `no auth method is mounted at auth/${mountName}/ (declare auth/${mountName}/config.json in git)`);
    const roleName = typeof call.params.role === 'string' && call.params.role !== '' ? call.params.role : mount.default_role;
    if (!roleName) throw new ApiError(400, 'missing role');
    const role = applied.access!.roles.find((r) => r.mount === mountName && r.name === roleName);
    if (!role) throw new ApiError(400, `role "${roleName}" could not be found`);
    if (typeof call.params.jwt !== 'string' || call.params.jwt === '') throw new ApiError(400, 'missing token');
    const verifier = this.verifierFor(mount);
    let identity;
    try {
      identity = await verifier.verify(call.params.jwt, role);
    } catch (err) {
      throw err instanceof LoginError ? new ApiError(400, err.message, 'denied') : err;
    }
    const now = this.deps.now();
    const { token, record } = await this.deps.tokens.create({
      authRole: authRoleAddress(role),
      displayName: `${mountName}-${identity.displayName ?? identity.user}`,
      user: identity.user,
      policies: role.token_policies,
      metadata: { role: role.name, ...identity.metadata },
      issuedAt: now,
      expiresAt: now + Math.min(role.token_ttl, role.token_max_ttl) * 1000,
      maxExpiresAt: now + role.token_max_ttl * 1000,
      ttl: role.token_ttl,
      path: `auth/${mountName}/login`,
    });
    call.entry.auth = auditAuth(record);
    call.entry.response.auth_accessor = record.accessor;
    return { status: 200, body: envelope({ auth: { client_token: token, ...authBody(record, now) } }) };
  }

  private verifierFor(mount: NonNullable<AppliedSnapshot['access']>['auth'][number]): JwtVerifier {
    const key = JSON.stringify(mount);
    let verifier = this.verifiers.get(key);
    if (!verifier) {
      // The tests' knob: a key rotation seen without waiting the real cooldown.
      const cooldown = Number(this.deps.env.CREDOPS_TEST_JWKS_COOLDOWN_MS);
      verifier = new JwtVerifier(mount, this.deps.now, Number.isFinite(cooldown) && cooldown > 0 ? cooldown : undefined);
      this.verifiers.set(key, verifier);
    }
    return verifier;
  }

  private async authenticate(call: Call): Promise<NonNullable<Call['token']>> {
    const header = call.req.headers['x-vault-token'];
    const bearer = /^Bearer\s+(\S+)$/i.exec(call.req.headers.authorization ?? '')?.[1];
    const token = (Array.isArray(header) ? header[0] : header) ?? bearer;
    if (!token) throw new ApiError(403, PERMISSION_DENIED);
    const record = await this.deps.tokens.lookup(token);
    if (!record) throw new ApiError(403, `${PERMISSION_DENIED}: invalid token`);
    call.entry.auth = auditAuth(record);
    return { token, record, acl: await this.aclFor(record.policies) };
  }

  private async aclFor(policies: string[]): Promise<Acl> {
    const applied = await this.deps.applied();
    if (this.aclCache.serial !== applied.serial) this.aclCache = { serial: applied.serial, byPolicies: new Map() };
    const key = policies.join('\0');
    let acl = this.aclCache.byPolicies.get(key);
    if (!acl) {
      acl = new Acl(policiesOf({ token_policies: policies }, applied.access?.acl ?? []));
      this.aclCache.byPolicies.set(key, acl);
    }
    return acl;
  }

  private async tokenSelf(call: Call, op: 'lookup-self' | 'renew-self' | 'revoke-self'): Promise<Reply> {
    const { token, record } = call.token!;
    const now = this.deps.now();
    if (op === 'lookup-self') {
      return {
        status: 200,
        body: envelope({
          data: {
            accessor: record.accessor,
            creation_time: Math.floor(record.issuedAt / 1000),
            creation_ttl: record.ttl,
            display_name: record.displayName,
            entity_id: '',
            expire_time: new Date(record.expiresAt).toISOString(),
            explicit_max_ttl: 0,
            id: token,
            issue_time: new Date(record.issuedAt).toISOString(),
            meta: record.metadata,
            num_uses: 0,
            orphan: true,
            path: record.path,
            policies: record.policies,
            renewable: true,
            ttl: secondsLeft(record.expiresAt, now),
            type: 'service',
          },
        }),
      };
    }
    if (op === 'renew-self') {
      const renewed = await this.deps.tokens.renew(token, record, durationParam(call.params.increment, 'increment'));
      const warnings = renewed.expiresAt === renewed.maxExpiresAt ? ['TTL of the token is capped by its max_ttl'] : null;
      return { status: 200, body: envelope({ auth: authBody(renewed, now), warnings }) };
    }
    // revoke-self: the token's leases first, as Vault revokes a token's leases with it.
    const leases = (await this.deps.state.listLeases()).filter((l) => l.token === record.accessor);
    call.entry.response.revoked = revokedAll(await this.deps.engine.revokeLeases(leases));
    await this.deps.tokens.revoke(token, record);
    return { status: 204 };
  }

  // ---- credentials -----------------------------------------------------------

  private async credentials(call: Call, mount: string, kind: 'creds' | 'sts' | 'static-creds', name: string): Promise<Reply> {
    const { record, acl } = call.token!;
    call.entry.request.mount_point = `${mount}/`;
    const needed: Capability = call.method === 'GET' ? 'read' : 'update';
    if (!acl.allows(call.path, [needed])) throw new ApiError(403, PERMISSION_DENIED);
    const applied = await this.deps.applied();
    if (kind === 'static-creds') {
      if (call.method !== 'GET') throw new ApiError(405, `unsupported operation ${call.method} on ${call.path}`);
      const spec = applied.staticRoles?.find((s) => s.mount === mount && s.name === name);
      const key = spec && (await currentStaticKey({ state: this.deps.state, env: this.deps.env }, spec));
      if (!key) throw new ApiError(404, `no value found at ${call.path}`, 'invalid');
      call.entry.response.access_key_id = key.accessKeyId;
      return { status: 200, body: envelope({ data: { access_key: key.accessKeyId, expiration: key.expiration.toISOString(), secret_key: key.secretAccessKey } }) };
    }
    const role = applied.roles.find((r) => r.mount === mount && r.name === name);
    if (!role) throw new ApiError(400, `role "${name}" not found`);
    const authRole = applied.access?.roles.find((r) => authRoleAddress(r) === record.authRole);
    const caps = capsFor(role, record, authRole);
    const now = this.deps.now();
    const reservation = caps.length ? await reserve(this.deps.state, caps, now) : { ok: true as const, counters: [], release: async () => {} };
    if (!reservation.ok) throw new ApiError(429, reservation.reason);
    let credential: IssuedCredential;
    try {
      credential = await this.deps.engine.issue({
        mount,
        role: name,
        path: kind,
        ...optional('ttl', durationParam(call.params.ttl, 'ttl')),
        ...optional('roleArn', stringParam(call.params.role_arn)),
        ...optional('roleSessionName', stringParam(call.params.role_session_name)),
        ...optional('mfaCode', stringParam(call.params.mfa_code)),
        asker: { accessor: record.accessor, expiresAt: record.expiresAt, maxExpiresAt: record.maxExpiresAt, counters: reservation.counters },
      });
    } catch (err) {
      await reservation.release();
      throw err;
    }
    call.entry.response.lease_id = credential.lease.leaseId;
    call.entry.response.access_key_id = credential.accessKeyId;
    const token = credential.sessionToken ?? null;
    const arn = credential.lease.credentialType === 'assumed_role' && credential.lease.resources.principalArn ? { arn: credential.lease.resources.principalArn } : {};
    return {
      status: 200,
      body: envelope({
        lease_id: credential.lease.leaseId,
        renewable: credential.lease.renewable,
        lease_duration: secondsLeft(credential.lease.expiresAt, this.deps.now()),
        data: { access_key: credential.accessKeyId, secret_key: credential.secretAccessKey, security_token: token, ...arn, session_token: token },
        mount_type: 'aws',
      }),
    };
  }

  // ---- sys/leases ------------------------------------------------------------

  private async leases(call: Call, op: 'lookup' | 'renew' | 'revoke' | 'revoke-prefix', rest: string | undefined): Promise<Reply> {
    const { acl, record } = call.token!;
    // Vault's older paths (sys/renew, sys/revoke-prefix/P, which node-vault calls) are granted by a
    // policy on either spelling.
    const canonical = `sys/leases/${op}${rest !== undefined ? `/${rest}` : ''}`;
    const allowed = (caps: Capability[]) => acl.allows(canonical, caps) || acl.allows(call.path, caps);
    if (op === 'lookup' && call.method === 'LIST') {
      if (!allowed(['list', 'sudo'])) throw new ApiError(403, PERMISSION_DENIED);
      const prefix = rest ?? '';
      const keys = new Set<string>();
      for (const lease of await this.deps.engine.list({ prefix })) {
        const tail = lease.leaseId.slice(prefix.length).replace(/^\//, '');
        const slash = tail.indexOf('/');
        keys.add(slash === -1 ? tail : tail.slice(0, slash + 1));
      }
      if (keys.size === 0) throw new ApiError(404, 'not found');
      return { status: 200, body: envelope({ data: { keys: [...keys].sort() } }) };
    }
    if (op === 'revoke-prefix') {
      if (!allowed(['update', 'sudo'])) throw new ApiError(403, PERMISSION_DENIED);
      if (!rest) throw new ApiError(400, 'missing prefix');
      call.entry.response.revoked = revokedAll(await this.deps.engine.revokePrefix(rest));
      return { status: 204 };
    }
    const leaseId = stringParam(call.params.lease_id) ?? rest;
    if (!leaseId) throw new ApiError(400, 'missing lease ID');
    const lease = await this.deps.state.getLease(leaseId);
    // Vault's default policy lets every token look up and renew any lease id it knows, so an unknown
    // one is said so to anyone; credops keeps lookup, renew and revoke without a policy to one's own leases.
    if (!lease && op !== 'revoke') throw new ApiError(400, 'invalid lease');
    const own = lease !== undefined && lease.token === record.accessor;
    if (!own && !allowed(['update']) && !acl.allows(`sys/leases/${op}`, ['update'])) throw new ApiError(403, PERMISSION_DENIED);
    // Revoking what is gone is done (Vault answers 204 too).
    if (!lease) return { status: 204 };
    call.entry.response.lease_id = lease.leaseId;
    const now = this.deps.now();
    if (op === 'lookup') {
      return {
        status: 200,
        body: envelope({
          data: {
            id: lease.leaseId,
            issue_time: new Date(lease.issuedAt).toISOString(),
            expire_time: new Date(lease.expiresAt).toISOString(),
            last_renewal: lease.lastRenewedAt === undefined ? null : new Date(lease.lastRenewedAt).toISOString(),
            renewable: lease.renewable,
            ttl: secondsLeft(lease.expiresAt, now),
          },
        }),
      };
    }
    if (op === 'renew') {
      // The lease never outlives the token that asked for it: its owner's current expiry caps it.
      let capAt: number | undefined;
      if (lease.token !== undefined) {
        const owner = own ? record : await this.deps.tokens.lookupByAccessor(lease.token);
        if (!owner) throw new ApiError(400, 'lease is not renewable: the token that asked for it has expired or was revoked');
        capAt = owner.expiresAt;
      }
      const renewed = await this.deps.engine.renew(lease.leaseId, durationParam(call.params.increment, 'increment'), capAt).catch((err: unknown) => {
        throw err instanceof UserError ? new ApiError(400, /not renewable/.test(err.message) ? 'lease is not renewable' : err.message) : err;
      });
      return { status: 200, body: envelope({ lease_id: renewed.leaseId, renewable: renewed.renewable, lease_duration: secondsLeft(renewed.expiresAt, now) }) };
    }
    await this.deps.engine.revoke(lease.leaseId);
    return { status: 204 };
  }
}

/** How many were revoked; when any failed, the request fails naming the first (the others were still tried). */
function revokedAll(result: BulkRevokeResult): number {
  const failed = result.failed[0];
  if (failed) {
    const total = result.revoked.length + result.failed.length;
    throw new ApiError(500, `failed to revoke ${result.failed.length} of ${total} leases: ${failed.leaseId}: ${failed.error}`);
  }
  return result.revoked.length;
}

/** The caps that apply to an issuance: the role's, and the asking token's (from its auth role). */
function capsFor(role: { mount: string; name: string; max_leases?: number; max_issue_rate?: CapSpec['rate'] }, token: TokenRecord, authRole: AuthRoleSpec | undefined): CapSpec[] {
  const caps: CapSpec[] = [];
  if (role.max_leases !== undefined || role.max_issue_rate) {
    caps.push({ what: `role ${role.mount}/${role.name}`, key: `role/${role.mount}/${role.name}`, ...optional('maxLeases', role.max_leases), ...optional('rate', role.max_issue_rate) });
  }
  if (authRole && (authRole.max_leases !== undefined || authRole.max_issue_rate)) {
    caps.push({
      what: `this token (auth role ${token.authRole})`,
      key: `token/${token.accessor}`,
      ...optional('maxLeases', authRole.max_leases),
      ...optional('rate', authRole.max_issue_rate),
    });
  }
  return caps;
}

function auditAuth(record: TokenRecord): AuditAuth {
  return { accessor: record.accessor, display_name: record.displayName, policies: record.policies, metadata: record.metadata, auth_role: record.authRole, identity: record.user };
}

function authBody(record: TokenRecord, now: number): Record<string, unknown> {
  return {
    accessor: record.accessor,
    policies: record.policies,
    token_policies: record.policies,
    metadata: record.metadata,
    lease_duration: secondsLeft(record.expiresAt, now),
    renewable: true,
    entity_id: '',
    token_type: 'service',
    orphan: true,
    mfa_requirement: null,
    num_uses: 0,
  };
}

/** Vault's response envelope; what a handler does not set is Vault's empty value. */
function envelope(fields: Record<string, unknown>): Record<string, unknown> {
  return { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: null, ...fields };
}

/** Whole seconds from now until `at` (a lease's or token's expiry), never negative: Vault's ttl and lease_duration. */
function secondsLeft(at: number, now: number): number {
  return Math.max(0, Math.round((at - now) / 1000));
}

function operationOf(method: string): string {
  return method === 'GET' || method === 'HEAD' ? 'read' : method === 'LIST' ? 'list' : method === 'DELETE' ? 'delete' : 'update';
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Vault takes durations as seconds (number or numeric string) or "1h". */
function durationParam(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') throw new ApiError(400, `${name}: must be a duration such as 3600 or "1h"`);
  try {
    return parseDuration(value);
  } catch (err) {
    throw new ApiError(400, `${name}: ${errorMessage(err)}`);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'failed to parse JSON input: invalid character in request body');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ApiError(400, 'failed to parse JSON input: the body must be a JSON object');
  return value as Record<string, unknown>;
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof UserError) return new ApiError(400, err.message);
  return new ApiError(500, `internal error: ${errorMessage(err)}`);
}

function send(res: ServerResponse, reply: Reply, head: boolean): void {
  if (res.headersSent) return;
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, { 'Cache-Control': 'no-store' }).end();
    return;
  }
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}
