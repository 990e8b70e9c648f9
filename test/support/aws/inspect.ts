/**
 * What tests see of the endpoint in-process: read-only views of its state (no secret access keys
 * or session tokens in them) and out-of-band changes, as a person with console access would make.
 */
import type { Tag } from './query.js';
import type { AccessKey, KeyStatus, ManagedPolicy, Role, Secret, Session, User, World } from './state.js';
import { purgeExpired } from './secretsmanager.js';

export interface AccessKeyView {
  accessKeyId: string;
  userName: string;
  status: KeyStatus;
  createDate: number;
  lastUsedDate?: number;
}

export interface UserView {
  userName: string;
  userId: string;
  arn: string;
  path: string;
  createDate: number;
  tags: Tag[];
  permissionsBoundary?: string;
  accessKeys: AccessKeyView[];
  inlinePolicies: Record<string, string>;
  attachedPolicies: string[];
  groups: string[];
  loginProfile: boolean;
  mfaDevices: string[];
  sshPublicKeys: string[];
  signingCertificates: string[];
}

export interface RoleView {
  roleName: string;
  arn: string;
  accountId: string;
  path: string;
  maxSessionDuration: number;
  externalId?: string;
}

export interface GroupView {
  groupName: string;
  arn: string;
  members: string[];
}

export interface PolicyView {
  policyName: string;
  arn: string;
  document: string;
  attachmentCount: number;
}

/** STS credentials handed out, with what the caller asked for (policy, tags, MFA...): an allow-list of Session's fields, never the secret or token. */
export type SessionView = Pick<
  Session,
  | 'kind'
  | 'accessKeyId'
  | 'arn'
  | 'expiration'
  | 'durationSeconds'
  | 'sourceUserName'
  | 'roleArn'
  | 'roleSessionName'
  | 'federatedName'
  | 'policy'
  | 'policyArns'
  | 'tags'
  | 'externalId'
  | 'serialNumber'
>;

export interface SecretView {
  name: string;
  arn: string;
  /** The AWSCURRENT SecretString, so a test can check what a sink delivered. */
  value?: string;
  description?: string;
  kmsKeyId?: string;
  tags: Tag[];
  versions: { versionId: string; stages: string[]; createdDate: number }[];
  createdDate: number;
  deletedDate?: number;
  /** When a scheduled deletion becomes final. */
  deletionDate?: number;
}

export interface RoleOptions {
  maxSessionDuration?: number;
  path?: string;
  /** Another account's role, for cross-account AssumeRole. */
  accountId?: string;
  /** AssumeRole must pass this ExternalId (the trust policy's sts:ExternalId condition). */
  externalId?: string;
}

export interface IamInspection {
  users(): UserView[];
  user(name: string): UserView | undefined;
  accessKeys(): AccessKeyView[];
  accessKey(accessKeyId: string): AccessKeyView | undefined;
  roles(): RoleView[];
  groups(): GroupView[];
  policies(): PolicyView[];
  sessions(): SessionView[];

  createUser(name: string, path?: string): UserView;
  /** Deletes the user and everything hanging off it, as the console does. */
  deleteUser(name: string): void;
  createAccessKey(userName: string): { accessKeyId: string; secretAccessKey: string };
  deleteAccessKey(accessKeyId: string): void;
  setAccessKeyStatus(accessKeyId: string, status: KeyStatus): void;
  createRole(name: string, opts?: RoleOptions): RoleView;
  deleteRole(name: string, accountId?: string): void;
  createGroup(name: string, path?: string): GroupView;
  createManagedPolicy(name: string, document?: string, path?: string): PolicyView;
  addUserToGroup(userName: string, groupName: string): void;
  putUserPolicy(userName: string, policyName: string, document: string): void;
  putGroupPolicy(groupName: string, policyName: string, document: string): void;
  attachGroupPolicy(groupName: string, policyArn: string): void;
  attachUserPolicy(userName: string, policyArn: string): void;
  tagUser(userName: string, tags: Tag[]): void;
  createLoginProfile(userName: string): void;
  /** Creates and enables a virtual MFA device; returns its serial number. */
  enableMfaDevice(userName: string, deviceName?: string): string;
  uploadSshPublicKey(userName: string): string;
  uploadSigningCertificate(userName: string): string;
}

export interface SecretsInspection {
  list(opts?: { includePlannedDeletion?: boolean }): SecretView[];
  get(nameOrArn: string): SecretView | undefined;
}

const ALLOW_ALL = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });

function keyView(k: AccessKey): AccessKeyView {
  return {
    accessKeyId: k.accessKeyId,
    userName: k.userName,
    status: k.status,
    createDate: k.createDate,
    ...(k.lastUsed ? { lastUsedDate: k.lastUsed.date } : {}),
  };
}

function userView(world: World, u: User): UserView {
  return {
    userName: u.name,
    userId: u.id,
    arn: u.arn,
    path: u.path,
    createDate: u.createDate,
    tags: u.tags.map((t) => ({ ...t })),
    ...(u.permissionsBoundary !== undefined ? { permissionsBoundary: u.permissionsBoundary } : {}),
    accessKeys: u.accessKeys.map((id) => world.accessKeys.get(id)).filter((k): k is AccessKey => k !== undefined).map(keyView),
    inlinePolicies: Object.fromEntries(u.inlinePolicies),
    attachedPolicies: [...u.attachedPolicies],
    groups: [...u.groups].map((k) => world.groups.get(k)?.name ?? k),
    loginProfile: u.loginProfile !== undefined,
    mfaDevices: u.mfaDevices.map((d) => d.serialNumber),
    sshPublicKeys: [...u.sshKeys.keys()],
    signingCertificates: [...u.signingCerts.keys()],
  };
}

const roleView = (r: Role): RoleView => ({
  roleName: r.name,
  arn: r.arn,
  accountId: r.accountId,
  path: r.path,
  maxSessionDuration: r.maxSessionDuration,
  ...(r.externalId !== undefined ? { externalId: r.externalId } : {}),
});

const policyView = (world: World, p: ManagedPolicy): PolicyView => ({ policyName: p.name, arn: p.arn, document: p.document, attachmentCount: world.attachmentCount(p.arn) });

function sessionView(s: Session): SessionView {
  // Built field by field so that the secret and the token can never slip into a view.
  const optional = {
    sourceUserName: s.sourceUserName,
    roleArn: s.roleArn,
    roleSessionName: s.roleSessionName,
    federatedName: s.federatedName,
    policy: s.policy,
    externalId: s.externalId,
    serialNumber: s.serialNumber,
  };
  return {
    kind: s.kind,
    accessKeyId: s.accessKeyId,
    arn: s.arn,
    expiration: s.expiration,
    durationSeconds: s.durationSeconds,
    policyArns: [...s.policyArns],
    tags: s.tags.map((t) => ({ ...t })),
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}

function secretView(s: Secret): SecretView {
  const current = [...s.versions.values()].find((v) => v.stages.has('AWSCURRENT'));
  return {
    name: s.name,
    arn: s.arn,
    ...(current?.secretString !== undefined ? { value: current.secretString } : {}),
    ...(s.description !== undefined ? { description: s.description } : {}),
    ...(s.kmsKeyId !== undefined ? { kmsKeyId: s.kmsKeyId } : {}),
    tags: s.tags.map((t) => ({ ...t })),
    versions: [...s.versions.values()].map((v) => ({ versionId: v.versionId, stages: [...v.stages], createdDate: v.createdDate })),
    createdDate: s.createdDate,
    ...(s.deletedDate !== undefined ? { deletedDate: s.deletedDate } : {}),
    ...(s.deletionDate !== undefined ? { deletionDate: s.deletionDate } : {}),
  };
}

export function iamInspection(world: World): IamInspection {
  const mustUser = (name: string): User => {
    const u = world.user(name);
    if (!u) throw new Error(`local AWS: no user ${name}`);
    return u;
  };
  const mustKey = (id: string): AccessKey => {
    const k = world.accessKeys.get(id);
    if (!k) throw new Error(`local AWS: no access key ${id}`);
    return k;
  };
  return {
    users: () => [...world.users.values()].map((u) => userView(world, u)),
    user: (name) => {
      const u = world.user(name);
      return u ? userView(world, u) : undefined;
    },
    accessKeys: () => [...world.accessKeys.values()].map(keyView),
    accessKey: (id) => {
      const k = world.accessKeys.get(id);
      return k ? keyView(k) : undefined;
    },
    roles: () => [...world.roles.values()].map(roleView),
    groups: () => [...world.groups.values()].map((g) => ({ groupName: g.name, arn: g.arn, members: world.membersOf(g).map((u) => u.name) })),
    policies: () => [...world.policies.values()].map((p) => policyView(world, p)),
    sessions: () => [...world.sessions.values()].map(sessionView),

    createUser: (name, path = '/') => {
      if (world.user(name)) throw new Error(`local AWS: user ${name} exists`);
      return userView(world, world.addUser(name, path));
    },
    deleteUser: (name) => world.forgetUser(mustUser(name)),
    createAccessKey: (userName) => {
      const k = world.addAccessKey(mustUser(userName));
      return { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
    },
    deleteAccessKey: (id) => world.removeAccessKey(mustUser(mustKey(id).userName), id),
    setAccessKeyStatus: (id, status) => {
      mustKey(id).status = status;
    },
    createRole: (name, opts = {}) => roleView(world.addRole(name, opts)),
    deleteRole: (name, accountId = world.accountId) => {
      world.roles.delete(`${accountId}:${name.toLowerCase()}`);
    },
    createGroup: (name, path = '/') => {
      const g = world.group(name) ?? world.addGroup(name, path);
      return { groupName: g.name, arn: g.arn, members: world.membersOf(g).map((u) => u.name) };
    },
    createManagedPolicy: (name, document = ALLOW_ALL, path = '/') => policyView(world, world.addPolicy(name, document, path)),
    addUserToGroup: (userName, groupName) => {
      const g = world.group(groupName);
      if (!g) throw new Error(`local AWS: no group ${groupName}`);
      mustUser(userName).groups.add(g.name.toLowerCase());
    },
    putGroupPolicy: (groupName, policyName, document) => {
      const g = world.group(groupName);
      if (!g) throw new Error(`local AWS: no group ${groupName}`);
      g.inlinePolicies.set(policyName, document);
    },
    attachGroupPolicy: (groupName, policyArn) => {
      const g = world.group(groupName);
      if (!g) throw new Error(`local AWS: no group ${groupName}`);
      if (!g.attachedPolicies.includes(policyArn)) g.attachedPolicies.push(policyArn);
    },
    putUserPolicy: (userName, policyName, document) => {
      mustUser(userName).inlinePolicies.set(policyName, document);
    },
    attachUserPolicy: (userName, policyArn) => {
      const u = mustUser(userName);
      if (!u.attachedPolicies.includes(policyArn)) u.attachedPolicies.push(policyArn);
    },
    tagUser: (userName, tags) => {
      const u = mustUser(userName);
      u.tags = [...u.tags.filter((t) => !tags.some((n) => n.Key === t.Key)), ...tags];
    },
    createLoginProfile: (userName) => {
      mustUser(userName).loginProfile = { createDate: world.now(), passwordResetRequired: false };
    },
    enableMfaDevice: (userName, deviceName) => {
      const u = mustUser(userName);
      const serialNumber = world.iamArn('mfa', '/', deviceName ?? `${u.name}-mfa`);
      world.mfaDevices.set(serialNumber, { serialNumber, seed: world.newSecret(32), createDate: world.now(), userName: u.name });
      u.mfaDevices.push({ serialNumber, enableDate: world.now() });
      return serialNumber;
    },
    uploadSshPublicKey: (userName) => {
      const id = world.newId('APKA');
      mustUser(userName).sshKeys.set(id, { id, body: `ssh-ed25519 AAAA${world.newSecret(40)}`, status: 'Active', uploadDate: world.now() });
      return id;
    },
    uploadSigningCertificate: (userName) => {
      const id = world.newId('', 32);
      mustUser(userName).signingCerts.set(id, { id, body: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----', status: 'Active', uploadDate: world.now() });
      return id;
    },
  };
}

export function secretsInspection(world: World): SecretsInspection {
  return {
    list: (opts = {}) => {
      purgeExpired(world);
      return [...world.secrets.values()].filter((s) => opts.includePlannedDeletion === true || s.deletedDate === undefined).map(secretView);
    },
    get: (nameOrArn) => {
      purgeExpired(world);
      const s = world.secrets.get(nameOrArn) ?? [...world.secrets.values()].find((x) => x.arn === nameOrArn);
      return s ? secretView(s) : undefined;
    },
  };
}
