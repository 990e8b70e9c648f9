/**
 * The HTTP front: route by the SigV4 credential scope's service, authenticate the signer,
 * apply injected faults, run the action, and answer in the service's wire format.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkExplicitDeny } from './deny.js';
import { AwsError } from './errors.js';
import { checkIdentityPolicy } from './authorize.js';
import type { Faults } from './faults.js';
import { IAM_NAMESPACE, iamActions } from './iam.js';
import { QueryParams, type QueryHandler } from './query.js';
import { secretsActions } from './secretsmanager.js';
import { parseAuthorization, signatureMatches, type ParsedAuthorization } from './sigv4.js';
import type { Caller, World } from './state.js';
import { STS_NAMESPACE, stsActions } from './sts.js';
import { queryError, queryResponse } from './xml.js';

export interface CallRecord {
  service: string;
  action: string;
  /** The signer's key id ('' when unsigned). Never the secret. */
  accessKeyId: string;
  status: number;
  /** The AWS error code when status is not 200. */
  code?: string;
  /** What the call was about, when it names one thing: UserName, RoleArn, SecretId... */
  resource?: string;
}

/** Parameters that name the one thing a call acts on, most specific first. */
const RESOURCE_PARAMS = ['AccessKeyId', 'UserName', 'RoleArn', 'RoleName', 'GroupName', 'PolicyArn', 'SecretId', 'Name'];

type Protocol = 'query' | 'json';

interface Service {
  protocol: Protocol;
  namespace: string;
  query?: Record<string, QueryHandler>;
}

const SERVICES: Record<string, Service> = {
  iam: { protocol: 'query', namespace: IAM_NAMESPACE, query: iamActions },
  sts: { protocol: 'query', namespace: STS_NAMESPACE, query: stsActions },
  secretsmanager: { protocol: 'json', namespace: '' },
};

/** The same failure has different names in the Query and JSON protocols. */
const AUTH_ERRORS: Record<'unknownKey' | 'badSignature' | 'expired' | 'missing', Record<Protocol, () => AwsError>> = {
  unknownKey: {
    query: () => new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403),
    json: () => new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400),
  },
  badSignature: {
    query: () => new AwsError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.', 403),
    json: () => new AwsError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.', 400),
  },
  expired: {
    query: () => new AwsError('ExpiredToken', 'The security token included in the request is expired', 403),
    json: () => new AwsError('ExpiredTokenException', 'The security token included in the request is expired', 400),
  },
  missing: {
    query: () => new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
    json: () => new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 400),
  },
};

interface Parsed {
  service: string;
  protocol: Protocol;
  action: string;
  auth?: ParsedAuthorization;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // A client killed mid-request (the crash tests do that) leaves a body that never ends.
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class LocalAwsServer {
  readonly calls: CallRecord[] = [];
  private readonly server: Server;

  constructor(
    private readonly world: World,
    private readonly faults: Faults,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // A bug in the endpoint itself: answer like AWS would and keep serving.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`local AWS endpoint failure: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
  }

  async listen(): Promise<string> {
    // SDK clients keep connections alive; a server closing idle ones can race a request into
    // ECONNRESET, which a test with maxAttempts 1 would see as a flake. close() ends them all.
    this.server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const requestId = randomUUID();
    const url = req.url ?? '/';
    const auth = parseAuthorization(header(req, 'authorization'));
    const target = header(req, 'x-amz-target');
    const serviceName = auth?.service ?? (target?.startsWith('secretsmanager.') ? 'secretsmanager' : 'sts');
    const service = SERVICES[serviceName];
    const rawQuery = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    const queryParams = service?.protocol === 'query' ? QueryParams.parse(body.toString('utf8'), rawQuery) : undefined;
    const action = service?.protocol === 'json' ? (target?.split('.')[1] ?? '') : (queryParams?.action ?? '');
    const parsed: Parsed = { service: serviceName, protocol: service?.protocol ?? 'query', action, ...(auth ? { auth } : {}) };

    const answer = async (): Promise<{ status: number; payload: unknown }> => {
      if (!service) throw new AwsError('UnknownService', `The local endpoint does not serve ${serviceName}`, 400);
      const caller = this.authenticate(req, body, parsed);
      await this.faults.gate(serviceName, action);
      this.world.userPropagationMs = this.faults.userPropagationMs();
      const fault = this.faults.decide(serviceName, action);
      if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
      if (fault.error) throw fault.error;
      const htmlStatus = this.faults.htmlAnswer(serviceName, action);
      if (htmlStatus !== undefined) throw new HtmlAnswer(htmlStatus);
      if (caller.kind === 'session') checkExplicitDeny(this.world, caller.session, serviceName, action, service.protocol);
      if (caller.kind === 'user' && this.world.enforcePolicies) checkIdentityPolicy(this.world, caller.user, serviceName, action, queryParams, service.protocol);
      if (service.protocol === 'query') {
        const handler = service.query?.[action];
        if (!handler || !queryParams) throw new AwsError('InvalidAction', `Could not find operation ${action} for version ${queryParams?.version ?? ''}`, 400);
        const payload = handler(queryParams, { world: this.world, caller, region: parsed.auth?.region ?? this.world.region });
        this.loseAnswer(serviceName, action);
        return { status: 200, payload };
      }
      const handler = secretsActions[action];
      if (!handler) throw new AwsError('UnknownOperationException', `Unknown operation ${action}`, 400);
      let input: Record<string, unknown>;
      try {
        input = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      } catch {
        throw new AwsError('SerializationException', 'Request body is not valid JSON', 400);
      }
      const payload = handler(input, { world: this.world, caller, region: parsed.auth?.region ?? this.world.region });
      this.loseAnswer(serviceName, action);
      return { status: 200, payload };
    };

    let status: number;
    let code: string | undefined;
    try {
      const result = await answer();
      status = result.status;
      if (parsed.protocol === 'query') {
        const ns = service?.namespace ?? STS_NAMESPACE;
        this.send(res, status, 'text/xml', queryResponse(action, ns, result.payload as Parameters<typeof queryResponse>[2], requestId), requestId);
      } else {
        this.send(res, status, 'application/x-amz-json-1.1', JSON.stringify(result.payload), requestId);
      }
    } catch (err) {
      if (err instanceof ResetConnection) {
        req.socket.destroy();
        this.calls.push({ service: serviceName, action, accessKeyId: auth?.accessKeyId ?? '', status: 0, code: 'reset' });
        return;
      }
      if (err instanceof HtmlAnswer) {
        this.send(res, err.status, 'text/html', `<html><head><title>${err.status} Gateway Error</title></head><body><h1>Bad gateway</h1></body></html>`, requestId);
        this.calls.push({ service: serviceName, action, accessKeyId: auth?.accessKeyId ?? '', status: err.status, code: 'html' });
        return;
      }
      const e = err instanceof AwsError ? err : new AwsError(parsed.protocol === 'json' ? 'InternalServiceError' : 'InternalFailure', err instanceof Error ? err.message : String(err), 500);
      status = e.status;
      code = e.code;
      if (parsed.protocol === 'query') {
        this.send(res, e.status, 'text/xml', queryError(e, service?.namespace ?? IAM_NAMESPACE, requestId), requestId);
      } else {
        this.send(res, e.status, 'application/x-amz-json-1.1', JSON.stringify({ __type: e.code, Message: e.message }), requestId, { 'x-amzn-errortype': e.code });
      }
    }
    const resource = this.resourceOf(queryParams, parsed.protocol === 'json' ? body : undefined);
    this.calls.push({
      service: serviceName,
      action,
      accessKeyId: auth?.accessKeyId ?? '',
      status,
      ...(code !== undefined ? { code } : {}),
      ...(resource !== undefined ? { resource } : {}),
    });
  }

  /** A loseResponse() fault: the action was applied, and now its answer goes missing. */
  private loseAnswer(service: string, action: string): void {
    const after = this.faults.afterApply(service, action);
    if (after?.kind === 'error') throw after.error;
    if (after?.kind === 'reset') throw new ResetConnection();
  }

  private resourceOf(query: QueryParams | undefined, jsonBody: Buffer | undefined): string | undefined {
    let json: Record<string, unknown> = {};
    if (jsonBody && jsonBody.length > 0) {
      try {
        json = JSON.parse(jsonBody.toString('utf8')) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    }
    // UserName before AccessKeyId would hide which key a DeleteAccessKey removed.
    for (const name of RESOURCE_PARAMS) {
      const v = query ? query.opt(name) : json[name];
      if (typeof v === 'string' && v !== '') return v;
    }
    return undefined;
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string, requestId: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId, ...extra });
    res.end(body);
  }

  /** Who signed this request, or the error AWS gives for a key it does not accept. */
  private authenticate(req: IncomingMessage, body: Buffer, parsed: Parsed): Caller {
    const errors = (kind: keyof typeof AUTH_ERRORS): AwsError => AUTH_ERRORS[kind][parsed.protocol]();
    const auth = parsed.auth;
    if (!auth) throw errors('missing');
    const signable = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body };
    const key = this.world.accessKeys.get(auth.accessKeyId);
    if (key) {
      if (key.status !== 'Active') throw errors('unknownKey');
      if (this.world.now() < key.createDate + this.faults.keyPropagationMs()) throw errors('unknownKey');
      if (!signatureMatches(signable, auth, key.secretAccessKey)) throw errors('badSignature');
      const user = this.world.user(key.userName);
      if (!user) throw errors('unknownKey');
      key.lastUsed = { date: this.world.now(), service: parsed.service, region: auth.region };
      return { kind: 'user', accessKeyId: key.accessKeyId, user };
    }
    const session = this.world.sessions.get(auth.accessKeyId);
    if (!session) throw errors('unknownKey');
    if (header(req, 'x-amz-security-token') !== session.sessionToken) throw errors('unknownKey');
    if (!signatureMatches(signable, auth, session.secretAccessKey)) throw errors('badSignature');
    if (this.world.now() >= session.expiration) throw errors('expired');
    return { kind: 'session', accessKeyId: session.accessKeyId, session };
  }
}

/** Thrown inside a call to drop its connection without an answer. */
class ResetConnection extends Error {}

/** Thrown inside a call to answer with an HTML page instead of AWS's format. */
class HtmlAnswer extends Error {
  constructor(readonly status: number) {
    super(`HTML ${status}`);
  }
}
