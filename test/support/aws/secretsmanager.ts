/**
 * Secrets Manager's JSON 1.1 API (`X-Amz-Target: secretsmanager.Action`): secrets with versions
 * and staging labels, and the recovery window of a deletion.
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Operations.html
 */
import { AwsError } from './errors.js';
import type { Caller, Secret, SecretVersion, World } from './state.js';
import type { Tag } from './query.js';

export interface JsonContext {
  world: World;
  caller: Caller;
  region: string;
}

export type JsonInput = Record<string, unknown>;
export type JsonHandler = (input: JsonInput, ctx: JsonContext) => Record<string, unknown>;

// https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html
const RECOVERY_WINDOW_MIN_DAYS = 7;
const RECOVERY_WINDOW_MAX_DAYS = 30;
const RECOVERY_WINDOW_DEFAULT_DAYS = 30;
const SECRET_VALUE_MAX = 65_536;
const NAME_MAX = 512;
const TAGS_MAX = 50;
const LIST_MAX_RESULTS = 100;
const DAY_MS = 86_400_000;

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';

const invalidParameter = (m: string): AwsError => new AwsError('InvalidParameterException', m, 400);
const invalidRequest = (m: string): AwsError => new AwsError('InvalidRequestException', m, 400);
const notFound = (m = "Secrets Manager can't find the specified secret."): AwsError => new AwsError('ResourceNotFoundException', m, 400);

function str(input: JsonInput, name: string): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AwsError('ValidationException', `1 validation error detected: Value at '${name}' must be a string`, 400);
  return v;
}

function req(input: JsonInput, name: string): string {
  const v = str(input, name);
  if (v === undefined || v === '') throw new AwsError('ValidationException', `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`, 400);
  return v;
}

function tagsOf(input: JsonInput, name = 'Tags'): Tag[] {
  const v = input[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidParameter(`${name} must be a list`);
  return v.map((t: unknown) => {
    const rec = (t ?? {}) as Record<string, unknown>;
    return { Key: String(rec['Key'] ?? ''), Value: String(rec['Value'] ?? '') };
  });
}

function mergeTags(existing: Tag[], added: Tag[]): Tag[] {
  const merged = [...existing];
  for (const t of added) {
    const i = merged.findIndex((m) => m.Key === t.Key);
    if (i === -1) merged.push(t);
    else merged[i] = t;
  }
  if (merged.length > TAGS_MAX) throw invalidParameter(`The number of tags exceeds the limit of ${TAGS_MAX}.`);
  return merged;
}

const seconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

/** A secret scheduled for deletion is gone for good once its recovery window has passed. */
export function purgeExpired(world: World): void {
  const now = world.now();
  for (const [name, s] of world.secrets) if (s.deletionDate !== undefined && s.deletionDate <= now) world.secrets.delete(name);
}

/** SecretId is a name, a full ARN, or an ARN without the random six-character suffix. */
function find(world: World, secretId: string): Secret | undefined {
  purgeExpired(world);
  const byName = world.secrets.get(secretId);
  if (byName) return byName;
  for (const s of world.secrets.values()) if (s.arn === secretId || s.arn.slice(0, -7) === secretId) return s;
  return undefined;
}

function secretOf(world: World, input: JsonInput): Secret {
  const s = find(world, req(input, 'SecretId'));
  if (!s) throw notFound();
  return s;
}

function live(s: Secret): Secret {
  if (s.deletedDate !== undefined) throw invalidRequest(`You can't perform this operation on the secret because it was marked for deletion.`);
  return s;
}

function value(input: JsonInput): { secretString?: string; secretBinary?: string } {
  const secretString = str(input, 'SecretString');
  const secretBinary = str(input, 'SecretBinary');
  if (secretString !== undefined && secretBinary !== undefined) throw invalidParameter('You can\'t specify both a binary secret value and a string secret value in the same secret.');
  const size = Buffer.byteLength(secretString ?? '') + Buffer.from(secretBinary ?? '', 'base64').length;
  if (size > SECRET_VALUE_MAX) throw invalidParameter(`The secret value exceeds the maximum size of ${SECRET_VALUE_MAX} bytes.`);
  return { ...(secretString !== undefined ? { secretString } : {}), ...(secretBinary !== undefined ? { secretBinary } : {}) };
}

function sameValue(v: SecretVersion, given: { secretString?: string; secretBinary?: string }): boolean {
  return v.secretString === given.secretString && v.secretBinary === given.secretBinary;
}

/** Adds a version; AWSCURRENT moving to it turns the old current into AWSPREVIOUS, as AWS does. */
function addVersion(world: World, s: Secret, versionId: string, given: { secretString?: string; secretBinary?: string }, stages: string[]): SecretVersion {
  if (stages.includes(CURRENT)) {
    for (const v of s.versions.values()) v.stages.delete(PREVIOUS);
    for (const v of s.versions.values()) {
      if (v.stages.delete(CURRENT)) v.stages.add(PREVIOUS);
    }
  }
  for (const stage of stages) for (const v of s.versions.values()) v.stages.delete(stage);
  const version: SecretVersion = { versionId, stages: new Set(stages), createdDate: world.now(), ...given };
  s.versions.set(versionId, version);
  // Versions without a label are deprecated; AWS removes them in time, we at once.
  for (const [id, v] of s.versions) if (v.stages.size === 0) s.versions.delete(id);
  s.lastChangedDate = world.now();
  return version;
}

function stagesMap(s: Secret): Record<string, string[]> {
  return Object.fromEntries([...s.versions.values()].map((v) => [v.versionId, [...v.stages]]));
}

function describe(s: Secret, versionsKey: 'VersionIdsToStages' | 'SecretVersionsToStages'): Record<string, unknown> {
  return {
    ARN: s.arn,
    Name: s.name,
    Description: s.description,
    KmsKeyId: s.kmsKeyId,
    RotationEnabled: false,
    LastChangedDate: seconds(s.lastChangedDate),
    LastAccessedDate: seconds(s.lastAccessedDate),
    DeletedDate: seconds(s.deletedDate),
    Tags: s.tags.length > 0 ? s.tags : undefined,
    [versionsKey]: stagesMap(s),
    CreatedDate: seconds(s.createdDate),
  };
}

const CreateSecret: JsonHandler = (input, { world, region }) => {
  const name = req(input, 'Name');
  if (name.length > NAME_MAX || !/^[a-zA-Z0-9/_+=.@-]+$/.test(name)) throw invalidParameter('Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
  const existing = find(world, name);
  if (existing?.deletedDate !== undefined) throw invalidRequest(`You can't create this secret because a secret with this name is already scheduled for deletion.`);
  if (existing) throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`, 400);
  const given = value(input);
  const now = world.now();
  const secret: Secret = {
    name,
    arn: `arn:aws:secretsmanager:${region}:${world.accountId}:secret:${name}-${world.newSecret(6).replace(/[+/]/g, 'x')}`,
    tags: mergeTags([], tagsOf(input)),
    versions: new Map(),
    createdDate: now,
    lastChangedDate: now,
  };
  const description = str(input, 'Description');
  const kmsKeyId = str(input, 'KmsKeyId');
  if (description !== undefined) secret.description = description;
  if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
  world.secrets.set(name, secret);
  if (given.secretString === undefined && given.secretBinary === undefined) return { ARN: secret.arn, Name: name };
  const version = addVersion(world, secret, str(input, 'ClientRequestToken') ?? world.uuid(), given, [CURRENT]);
  return { ARN: secret.arn, Name: name, VersionId: version.versionId };
};

const PutSecretValue: JsonHandler = (input, { world }) => {
  const s = live(secretOf(world, input));
  const given = value(input);
  if (given.secretString === undefined && given.secretBinary === undefined) throw invalidParameter('You must provide either SecretString or SecretBinary.');
  const token = str(input, 'ClientRequestToken') ?? world.uuid();
  const stages = Array.isArray(input['VersionStages']) ? (input['VersionStages'] as unknown[]).map(String) : [CURRENT];
  const existing = s.versions.get(token);
  if (existing) {
    // The SDK fills ClientRequestToken so that a retried call is idempotent.
    if (!sameValue(existing, given)) throw new AwsError('ResourceExistsException', "You can't modify an existing version, you can only create a new version.", 400);
    return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: [...existing.stages] };
  }
  const version = addVersion(world, s, token, given, stages);
  return { ARN: s.arn, Name: s.name, VersionId: version.versionId, VersionStages: [...version.stages] };
};

const UpdateSecret: JsonHandler = (input, { world }) => {
  const s = live(secretOf(world, input));
  const description = str(input, 'Description');
  const kmsKeyId = str(input, 'KmsKeyId');
  if (description !== undefined) s.description = description;
  if (kmsKeyId !== undefined) s.kmsKeyId = kmsKeyId;
  const given = value(input);
  s.lastChangedDate = world.now();
  if (given.secretString === undefined && given.secretBinary === undefined) return { ARN: s.arn, Name: s.name };
  const token = str(input, 'ClientRequestToken') ?? world.uuid();
  const existing = s.versions.get(token);
  if (existing && !sameValue(existing, given)) throw new AwsError('ResourceExistsException', "You can't modify an existing version, you can only create a new version.", 400);
  const version = existing ?? addVersion(world, s, token, given, [CURRENT]);
  return { ARN: s.arn, Name: s.name, VersionId: version.versionId };
};

const GetSecretValue: JsonHandler = (input, { world }) => {
  const s = live(secretOf(world, input));
  const versionId = str(input, 'VersionId');
  const stage = str(input, 'VersionStage') ?? (versionId === undefined ? CURRENT : undefined);
  const version = [...s.versions.values()].find((v) => (versionId === undefined || v.versionId === versionId) && (stage === undefined || v.stages.has(stage)));
  if (!version) {
    throw notFound(versionId !== undefined ? `Secrets Manager can't find the specified secret value for VersionId: ${versionId}` : `Secrets Manager can't find the specified secret value for staging label: ${stage ?? CURRENT}`);
  }
  s.lastAccessedDate = Math.floor(world.now() / DAY_MS) * DAY_MS;
  return {
    ARN: s.arn,
    Name: s.name,
    VersionId: version.versionId,
    SecretString: version.secretString,
    SecretBinary: version.secretBinary,
    VersionStages: [...version.stages],
    CreatedDate: seconds(version.createdDate),
  };
};

const DescribeSecret: JsonHandler = (input, { world }) => describe(secretOf(world, input), 'VersionIdsToStages');

const DeleteSecret: JsonHandler = (input, { world }) => {
  const s = secretOf(world, input);
  const force = input['ForceDeleteWithoutRecovery'] === true;
  const windowGiven = input['RecoveryWindowInDays'];
  if (force && windowGiven !== undefined && windowGiven !== null) {
    throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
  }
  const now = world.now();
  if (force) {
    world.secrets.delete(s.name);
    return { ARN: s.arn, Name: s.name, DeletionDate: seconds(now) };
  }
  const days = windowGiven === undefined || windowGiven === null ? RECOVERY_WINDOW_DEFAULT_DAYS : Number(windowGiven);
  if (!Number.isInteger(days) || days < RECOVERY_WINDOW_MIN_DAYS || days > RECOVERY_WINDOW_MAX_DAYS) {
    throw invalidParameter(`The RecoveryWindowInDays value must be between ${RECOVERY_WINDOW_MIN_DAYS} and ${RECOVERY_WINDOW_MAX_DAYS} days (inclusive).`);
  }
  if (s.deletedDate !== undefined) throw invalidRequest(`You can't perform this operation on the secret because it was marked for deletion.`);
  s.deletedDate = now;
  s.deletionDate = now + days * DAY_MS;
  return { ARN: s.arn, Name: s.name, DeletionDate: seconds(s.deletionDate) };
};

const RestoreSecret: JsonHandler = (input, { world }) => {
  const s = secretOf(world, input);
  delete s.deletedDate;
  delete s.deletionDate;
  return { ARN: s.arn, Name: s.name };
};

const TagResource: JsonHandler = (input, { world }) => {
  const s = secretOf(world, input);
  s.tags = mergeTags(s.tags, tagsOf(input));
  return {};
};

const UntagResource: JsonHandler = (input, { world }) => {
  const s = secretOf(world, input);
  const keys = new Set(Array.isArray(input['TagKeys']) ? (input['TagKeys'] as unknown[]).map(String) : []);
  s.tags = s.tags.filter((t) => !keys.has(t.Key));
  return {};
};

function filterMatches(s: Secret, key: string, values: string[]): boolean {
  const has = (field: string | undefined): boolean => field !== undefined && values.some((v) => (v.startsWith('!') ? !field.startsWith(v.slice(1)) : field.startsWith(v)));
  switch (key) {
    case 'name':
      return has(s.name);
    case 'description':
      return has(s.description);
    case 'tag-key':
      return s.tags.some((t) => has(t.Key));
    case 'tag-value':
      return s.tags.some((t) => has(t.Value));
    case 'all':
      return has(s.name) || has(s.description) || s.tags.some((t) => has(t.Key) || has(t.Value));
    default:
      throw invalidParameter(`Invalid filter key: ${key}`);
  }
}

const ListSecrets: JsonHandler = (input, { world }) => {
  purgeExpired(world);
  const max = input['MaxResults'] === undefined ? LIST_MAX_RESULTS : Number(input['MaxResults']);
  if (!Number.isInteger(max) || max < 1 || max > LIST_MAX_RESULTS) throw invalidParameter(`MaxResults must be between 1 and ${LIST_MAX_RESULTS}.`);
  const includeDeleted = input['IncludePlannedDeletion'] === true;
  const filters = Array.isArray(input['Filters']) ? (input['Filters'] as { Key?: string; Values?: string[] }[]) : [];
  const secrets = [...world.secrets.values()]
    .filter((s) => includeDeleted || s.deletedDate === undefined)
    .filter((s) => filters.every((f) => filterMatches(s, f.Key ?? '', f.Values ?? [])))
    .sort((a, b) => (input['SortOrder'] === 'desc' ? b.createdDate - a.createdDate : a.createdDate - b.createdDate) || (a.name < b.name ? -1 : 1));
  const token = str(input, 'NextToken');
  const start = token === undefined ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(start) || start < 0) throw invalidParameter('Invalid NextToken.');
  const page = secrets.slice(start, start + max);
  return {
    SecretList: page.map((s) => describe(s, 'SecretVersionsToStages')),
    NextToken: start + max < secrets.length ? Buffer.from(String(start + max)).toString('base64url') : undefined,
  };
};

export const secretsActions: Record<string, JsonHandler> = {
  CreateSecret,
  PutSecretValue,
  UpdateSecret,
  GetSecretValue,
  DescribeSecret,
  DeleteSecret,
  RestoreSecret,
  TagResource,
  UntagResource,
  ListSecrets,
};
