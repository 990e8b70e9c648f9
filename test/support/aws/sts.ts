/**
 * STS's Query API (version 2011-06-15): caller identity and the three kinds of temporary
 * credentials credops issues, with AWS's limits.
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_Operations.html
 */
import { AwsError, validation } from './errors.js';
import { checkPolicyDocument, nonWhitespaceLength } from './iam.js';
import type { CallContext, QueryHandler, QueryParams, Tag } from './query.js';
import type { Session, SessionKind, World } from './state.js';
import type { XmlValue } from './xml.js';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
const SESSION_NAME_MIN = 2;
const SESSION_NAME_MAX = 64;
const FEDERATION_NAME_MIN = 2;
const FEDERATION_NAME_MAX = 32;
const SESSION_POLICY_MAX = 2048; // plaintext, whitespace not counted
const POLICY_ARNS_MAX = 10;
const SESSION_TAGS_MAX = 50;
const ASSUME_ROLE_MIN_SECONDS = 900;
const ASSUME_ROLE_DEFAULT_SECONDS = 3600;
const ROLE_CHAINING_MAX_SECONDS = 3600;
const USER_TOKEN_MIN_SECONDS = 900;
const USER_TOKEN_MAX_SECONDS = 129_600;
const USER_TOKEN_DEFAULT_SECONDS = 43_200;
const EXTERNAL_ID_MIN = 2;
const EXTERNAL_ID_MAX = 1224;
const SERIAL_MIN = 9;
const SERIAL_MAX = 256;

const NAME_PATTERN = /^[\w+=,.@-]*$/;

function constraint(member: string, value: string | number, rule: string): AwsError {
  return validation(`1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ${rule}`);
}

function checkName(value: string, member: string, min: number, max: number): string {
  if (value.length < min) throw constraint(member, value, `Member must have length greater than or equal to ${min}`);
  if (value.length > max) throw constraint(member, value, `Member must have length less than or equal to ${max}`);
  if (!NAME_PATTERN.test(value)) throw constraint(member, value, 'Member must satisfy regular expression pattern: [\\w+=,.@-]*');
  return value;
}

function durationIn(p: QueryParams, min: number, max: number, fallback: number): number {
  const seconds = p.int('DurationSeconds') ?? fallback;
  if (seconds < min) throw constraint('durationSeconds', seconds, `Member must have value greater than or equal to ${min}`);
  if (seconds > max) throw constraint('durationSeconds', seconds, `Member must have value less than or equal to ${max}`);
  return seconds;
}

/** Session policy, policy ARNs and tags: what AWS packs into the token and limits together. */
function sessionPolicies(p: QueryParams): { policy?: string; policyArns: string[]; tags: Tag[]; packedPolicySize: number } {
  const policy = p.opt('Policy');
  let size = 0;
  if (policy !== undefined) {
    checkPolicyDocument(policy);
    size = nonWhitespaceLength(policy);
    if (size > SESSION_POLICY_MAX) {
      throw new AwsError('PackedPolicyTooLarge', `Packed policy consumes ${Math.ceil((size / SESSION_POLICY_MAX) * 100)}% of allotted space, please use smaller policy for this session.`, 400);
    }
  }
  const policyArns = p.structs('PolicyArns').map((s) => s['arn'] ?? '');
  if (policyArns.length > POLICY_ARNS_MAX) throw constraint('policyArns', `[${policyArns.join(', ')}]`, `Member must have length less than or equal to ${POLICY_ARNS_MAX}`);
  const tags = p.tags();
  if (tags.length > SESSION_TAGS_MAX) throw constraint('tags', tags.length, `Member must have length less than or equal to ${SESSION_TAGS_MAX}`);
  const tagChars = tags.reduce((n, t) => n + t.Key.length + t.Value.length, 0);
  const packedPolicySize = Math.ceil(((size + tagChars + policyArns.length * 64) / SESSION_POLICY_MAX) * 100);
  if (packedPolicySize > 100) {
    throw new AwsError('PackedPolicyTooLarge', `Packed policy consumes ${packedPolicySize}% of allotted space, please use smaller policy for this session.`, 400);
  }
  return { ...(policy !== undefined ? { policy } : {}), policyArns, tags, packedPolicySize };
}

function mfa(p: QueryParams): { serialNumber?: string } {
  const serial = p.opt('SerialNumber');
  const code = p.opt('TokenCode');
  if (serial === undefined && code === undefined) return {};
  if (serial === undefined || code === undefined) throw new AwsError('AccessDenied', 'MultiFactorAuthentication failed, must provide both SerialNumber and TokenCode.', 403);
  if (serial.length < SERIAL_MIN || serial.length > SERIAL_MAX) throw constraint('serialNumber', serial, `Member must have length between ${SERIAL_MIN} and ${SERIAL_MAX}`);
  if (!/^\d{6}$/.test(code)) throw constraint('tokenCode', code, 'Member must satisfy regular expression pattern: [\\d]*');
  return { serialNumber: serial };
}

function issue(world: World, kind: SessionKind, durationSeconds: number, identity: Omit<Session, 'kind' | 'accessKeyId' | 'secretAccessKey' | 'sessionToken' | 'expiration' | 'createDate' | 'durationSeconds'>): Session {
  const now = world.now();
  const session: Session = {
    kind,
    accessKeyId: world.newId('ASIA', 20),
    secretAccessKey: world.newSecret(),
    sessionToken: `IQoJb3JpZ2luX2Vj${world.newSecret(300)}`,
    expiration: now + durationSeconds * 1000,
    createDate: now,
    durationSeconds,
    ...identity,
  };
  world.sessions.set(session.accessKeyId, session);
  return session;
}

const credentialsXml = (s: Session): Record<string, XmlValue> => ({
  AccessKeyId: s.accessKeyId,
  SecretAccessKey: s.secretAccessKey,
  SessionToken: s.sessionToken,
  Expiration: new Date(s.expiration),
});

function callingUser(ctx: CallContext, action: string) {
  if (ctx.caller.kind !== 'user') throw new AwsError('AccessDenied', `Cannot call ${action} with session credentials`, 403);
  return ctx.caller.user;
}

const GetCallerIdentity: QueryHandler = (_p, { caller, world }) => {
  if (caller.kind === 'user') return { UserId: caller.user.id, Account: world.accountId, Arn: caller.user.arn };
  return { UserId: caller.session.userId, Account: caller.session.accountId, Arn: caller.session.arn };
};

/** `arn:aws:iam::ACCOUNT:role/PATH/NAME` -> the role, or AccessDenied as AWS answers for a role it will not let you assume. */
function roleFromArn(world: World, arn: string, ctx: CallContext) {
  const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(arn);
  if (arn.length < 20 || arn.length > 2048) throw constraint('roleArn', arn, 'Member must have length greater than or equal to 20');
  const role = m ? world.role(m[2] ?? '', m[1]) : undefined;
  if (!role || role.arn !== arn) {
    const who = ctx.caller.kind === 'user' ? ctx.caller.user.arn : ctx.caller.session.arn;
    throw new AwsError('AccessDenied', `User: ${who} is not authorized to perform: sts:AssumeRole on resource: ${arn}`, 403);
  }
  return role;
}

const AssumeRole: QueryHandler = (p, ctx) => {
  const { world, caller } = ctx;
  const role = roleFromArn(world, p.req('RoleArn'), ctx);
  const sessionName = checkName(p.req('RoleSessionName'), 'roleSessionName', SESSION_NAME_MIN, SESSION_NAME_MAX);
  const chained = caller.kind === 'session';
  const seconds = durationIn(p, ASSUME_ROLE_MIN_SECONDS, 43_200, ASSUME_ROLE_DEFAULT_SECONDS);
  if (chained && seconds > ROLE_CHAINING_MAX_SECONDS) {
    throw validation(`The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.`);
  }
  if (seconds > role.maxSessionDuration) throw validation('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  const externalId = p.opt('ExternalId');
  if (externalId !== undefined) {
    if (externalId.length < EXTERNAL_ID_MIN || externalId.length > EXTERNAL_ID_MAX) throw constraint('externalId', externalId, `Member must have length between ${EXTERNAL_ID_MIN} and ${EXTERNAL_ID_MAX}`);
    if (!/^[\w+=,.@:/-]*$/.test(externalId)) throw constraint('externalId', externalId, 'Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*');
  }
  const policies = sessionPolicies(p);
  const { serialNumber } = mfa(p);
  if (role.externalId !== undefined && role.externalId !== externalId) {
    const who = caller.kind === 'user' ? caller.user.arn : caller.session.arn;
    throw new AwsError('AccessDenied', `User: ${who} is not authorized to perform: sts:AssumeRole on resource: ${role.arn}`, 403);
  }
  const session = issue(world, 'assumed-role', seconds, {
    arn: `arn:aws:sts::${role.accountId}:assumed-role/${role.name}/${sessionName}`,
    userId: `${role.id}:${sessionName}`,
    accountId: role.accountId,
    roleArn: role.arn,
    roleSessionName: sessionName,
    policyArns: policies.policyArns,
    tags: policies.tags,
    chained,
    ...(caller.kind === 'user' ? { sourceUserName: caller.user.name } : caller.session.sourceUserName !== undefined ? { sourceUserName: caller.session.sourceUserName } : {}),
    ...(policies.policy !== undefined ? { policy: policies.policy } : {}),
    ...(externalId !== undefined ? { externalId } : {}),
    ...(serialNumber !== undefined ? { serialNumber } : {}),
  });
  return {
    Credentials: credentialsXml(session),
    AssumedRoleUser: { AssumedRoleId: session.userId, Arn: session.arn },
    PackedPolicySize: p.has('Policy') || policies.tags.length > 0 ? policies.packedPolicySize : undefined,
  };
};

const GetFederationToken: QueryHandler = (p, ctx) => {
  const user = callingUser(ctx, 'GetFederationToken');
  const name = checkName(p.req('Name'), 'name', FEDERATION_NAME_MIN, FEDERATION_NAME_MAX);
  const seconds = durationIn(p, USER_TOKEN_MIN_SECONDS, USER_TOKEN_MAX_SECONDS, USER_TOKEN_DEFAULT_SECONDS);
  const policies = sessionPolicies(p);
  const session = issue(ctx.world, 'federated-user', seconds, {
    arn: `arn:aws:sts::${ctx.world.accountId}:federated-user/${name}`,
    userId: `${ctx.world.accountId}:${name}`,
    accountId: ctx.world.accountId,
    sourceUserName: user.name,
    federatedName: name,
    policyArns: policies.policyArns,
    tags: policies.tags,
    chained: false,
    ...(policies.policy !== undefined ? { policy: policies.policy } : {}),
  });
  return {
    Credentials: credentialsXml(session),
    FederatedUser: { FederatedUserId: session.userId, Arn: session.arn },
    PackedPolicySize: policies.packedPolicySize,
  };
};

const GetSessionToken: QueryHandler = (p, ctx) => {
  const user = callingUser(ctx, 'GetSessionToken');
  const seconds = durationIn(p, USER_TOKEN_MIN_SECONDS, USER_TOKEN_MAX_SECONDS, USER_TOKEN_DEFAULT_SECONDS);
  const { serialNumber } = mfa(p);
  const session = issue(ctx.world, 'session-token', seconds, {
    arn: user.arn,
    userId: user.id,
    accountId: ctx.world.accountId,
    sourceUserName: user.name,
    policyArns: [],
    tags: [],
    chained: false,
    ...(serialNumber !== undefined ? { serialNumber } : {}),
  });
  return { Credentials: credentialsXml(session) };
};

export const stsActions: Record<string, QueryHandler> = {
  GetCallerIdentity,
  AssumeRole,
  GetFederationToken,
  GetSessionToken,
};
