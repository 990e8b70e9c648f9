/**
 * What the endpoint remembers: IAM entities, access keys, STS sessions and secrets, keyed the
 * way AWS keys them (IAM names are unique regardless of case).
 */
import type { LocalAwsClock } from './clock.js';
import { seededRandom } from './clock.js';
import type { Tag } from './query.js';

export type KeyStatus = 'Active' | 'Inactive';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  userName: string;
  status: KeyStatus;
  createDate: number;
  lastUsed?: { date: number; service: string; region: string };
}

export interface SshKey {
  id: string;
  body: string;
  status: KeyStatus;
  uploadDate: number;
}

export interface SigningCert {
  id: string;
  body: string;
  status: KeyStatus;
  uploadDate: number;
}

export interface User {
  name: string;
  id: string;
  path: string;
  arn: string;
  createDate: number;
  tags: Tag[];
  permissionsBoundary?: string;
  inlinePolicies: Map<string, string>; // name -> document, name as given
  attachedPolicies: string[]; // ARNs, in attach order
  groups: Set<string>; // group keys (lower-case names)
  accessKeys: string[]; // ids, in creation order
  loginProfile?: { createDate: number; passwordResetRequired: boolean };
  mfaDevices: { serialNumber: string; enableDate: number }[];
  sshKeys: Map<string, SshKey>;
  signingCerts: Map<string, SigningCert>;
}

export interface Group {
  name: string;
  id: string;
  path: string;
  arn: string;
  createDate: number;
  inlinePolicies: Map<string, string>; // name -> document, name as given
  attachedPolicies: string[]; // ARNs, in attach order
}

export interface Role {
  name: string;
  id: string;
  path: string;
  arn: string;
  accountId: string;
  createDate: number;
  assumeRolePolicyDocument: string;
  maxSessionDuration: number;
  description?: string;
  tags: Tag[];
  permissionsBoundary?: string;
  /** Stands in for a trust policy's sts:ExternalId condition. */
  externalId?: string;
  inlinePolicies: Map<string, string>; // name -> document, name as given
}

export interface ManagedPolicy {
  name: string;
  id: string;
  path: string;
  arn: string;
  document: string;
  description?: string;
  createDate: number;
}

export interface VirtualMfaDevice {
  serialNumber: string;
  seed: string;
  createDate: number;
  userName?: string;
}

export type SessionKind = 'assumed-role' | 'federated-user' | 'session-token';

/** Temporary credentials from STS. Only the endpoint sees the secret and token. */
export interface Session {
  kind: SessionKind;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: number;
  createDate: number;
  durationSeconds: number;
  /** The identity GetCallerIdentity reports. */
  arn: string;
  userId: string;
  accountId: string;
  /** The IAM user behind federation and session tokens, or who assumed the role. */
  sourceUserName?: string;
  roleArn?: string;
  roleSessionName?: string;
  federatedName?: string;
  policy?: string;
  policyArns: string[];
  tags: Tag[];
  externalId?: string;
  serialNumber?: string;
  /** Role chaining: assumed with other temporary credentials. */
  chained: boolean;
}

export interface SecretVersion {
  versionId: string;
  secretString?: string;
  secretBinary?: string; // base64
  stages: Set<string>;
  createdDate: number;
}

export interface Secret {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: Tag[];
  versions: Map<string, SecretVersion>;
  createdDate: number;
  lastChangedDate: number;
  lastAccessedDate?: number;
  deletedDate?: number;
  /** When a scheduled deletion becomes final (DeletionDate in DeleteSecret's answer). */
  deletionDate?: number;
}

/** Who signed a request, once the signature checked out. */
export type Caller =
  | { kind: 'user'; accessKeyId: string; user: User }
  | { kind: 'session'; accessKeyId: string; session: Session };

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export class World {
  readonly users = new Map<string, User>();
  readonly groups = new Map<string, Group>();
  readonly roles = new Map<string, Role>(); // key: `${accountId}:${lower name}`
  readonly policies = new Map<string, ManagedPolicy>(); // key: ARN
  readonly accessKeys = new Map<string, AccessKey>();
  readonly sessions = new Map<string, Session>();
  readonly mfaDevices = new Map<string, VirtualMfaDevice>(); // key: serial number
  readonly secrets = new Map<string, Secret>(); // key: name
  private readonly random: () => number;
  private readonly issued = new Set<string>();
  /** Users younger than this are not found by name yet (IAM eventual consistency; faults.ts). */
  userPropagationMs = 0;
  /** Requests signed with an IAM user's key need an Allow in its policies (authorize.ts). */
  enforcePolicies = false;

  constructor(
    readonly accountId: string,
    readonly region: string,
    readonly clock: LocalAwsClock,
    seed: number,
  ) {
    this.random = seededRandom(seed ^ 0x5eed);
  }

  now(): number {
    return this.clock.now();
  }

  private chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.random() * alphabet.length)];
    return s;
  }

  /** An id with AWS's prefix (AIDA user, AROA role, AKIA key, ASIA temporary key, ...), never reused. */
  newId(prefix: string, length = 21): string {
    for (;;) {
      const id = prefix + this.chars(ID_ALPHABET, length - prefix.length);
      if (!this.issued.has(id)) {
        this.issued.add(id);
        return id;
      }
    }
  }

  newSecret(length = 40): string {
    return this.chars(SECRET_ALPHABET, length);
  }

  newHex(length: number): string {
    return this.chars('0123456789abcdef', length);
  }

  uuid(): string {
    const h = this.newHex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
  }

  iamArn(kind: string, path: string, name: string, accountId = this.accountId): string {
    return `arn:aws:iam::${accountId}:${kind}${path}${name}`;
  }

  user(name: string): User | undefined {
    return this.users.get(name.toLowerCase());
  }

  group(name: string): Group | undefined {
    return this.groups.get(name.toLowerCase());
  }

  role(name: string, accountId = this.accountId): Role | undefined {
    return this.roles.get(`${accountId}:${name.toLowerCase()}`);
  }

  /** Managed policies AWS owns (arn:aws:iam::aws:policy/...) always exist. */
  policyExists(arn: string): boolean {
    return /^arn:aws:iam::aws:policy\/.+/.test(arn) || this.policies.has(arn);
  }

  addUser(name: string, path = '/', extra: Partial<User> = {}): User {
    const user: User = {
      name,
      id: this.newId('AIDA'),
      path,
      arn: this.iamArn('user', path, name),
      createDate: this.now(),
      tags: [],
      inlinePolicies: new Map(),
      attachedPolicies: [],
      groups: new Set(),
      accessKeys: [],
      mfaDevices: [],
      sshKeys: new Map(),
      signingCerts: new Map(),
      ...extra,
    };
    this.users.set(name.toLowerCase(), user);
    return user;
  }

  addAccessKey(user: User): AccessKey {
    const key: AccessKey = {
      accessKeyId: this.newId('AKIA', 20),
      secretAccessKey: this.newSecret(),
      userName: user.name,
      status: 'Active',
      createDate: this.now(),
    };
    this.accessKeys.set(key.accessKeyId, key);
    user.accessKeys.push(key.accessKeyId);
    return key;
  }

  removeAccessKey(user: User, accessKeyId: string): void {
    this.accessKeys.delete(accessKeyId);
    user.accessKeys = user.accessKeys.filter((id) => id !== accessKeyId);
  }

  addGroup(name: string, path = '/'): Group {
    const group: Group = { name, id: this.newId('AGPA'), path, arn: this.iamArn('group', path, name), createDate: this.now(), inlinePolicies: new Map(), attachedPolicies: [] };
    this.groups.set(name.toLowerCase(), group);
    return group;
  }

  addRole(
    name: string,
    opts: {
      path?: string;
      accountId?: string;
      maxSessionDuration?: number;
      assumeRolePolicyDocument?: string;
      description?: string;
      tags?: Tag[];
      permissionsBoundary?: string;
      externalId?: string;
    } = {},
  ): Role {
    const path = opts.path ?? '/';
    const accountId = opts.accountId ?? this.accountId;
    const role: Role = {
      name,
      id: this.newId('AROA'),
      path,
      arn: this.iamArn('role', path, name, accountId),
      accountId,
      createDate: this.now(),
      assumeRolePolicyDocument: opts.assumeRolePolicyDocument ?? defaultTrustPolicy(this.accountId),
      maxSessionDuration: opts.maxSessionDuration ?? 3600,
      tags: opts.tags ?? [],
      inlinePolicies: new Map(),
      ...(opts.description !== undefined ? { description: opts.description } : {}),
      ...(opts.permissionsBoundary !== undefined ? { permissionsBoundary: opts.permissionsBoundary } : {}),
      ...(opts.externalId !== undefined ? { externalId: opts.externalId } : {}),
    };
    this.roles.set(`${accountId}:${name.toLowerCase()}`, role);
    return role;
  }

  addPolicy(name: string, document: string, path = '/', description?: string): ManagedPolicy {
    const policy: ManagedPolicy = {
      name,
      id: this.newId('ANPA'),
      path,
      arn: this.iamArn('policy', path, name),
      document,
      createDate: this.now(),
      ...(description !== undefined ? { description } : {}),
    };
    this.policies.set(policy.arn, policy);
    return policy;
  }

  attachmentCount(arn: string): number {
    let n = 0;
    for (const u of this.users.values()) if (u.attachedPolicies.includes(arn)) n++;
    for (const g of this.groups.values()) if (g.attachedPolicies.includes(arn)) n++;
    return n;
  }

  membersOf(group: Group): User[] {
    const key = group.name.toLowerCase();
    return [...this.users.values()].filter((u) => u.groups.has(key));
  }

  /** Drops what a user owns besides the user itself; used by the out-of-band force delete. */
  forgetUser(user: User): void {
    for (const id of user.accessKeys) this.accessKeys.delete(id);
    for (const d of user.mfaDevices) {
      const device = this.mfaDevices.get(d.serialNumber);
      if (device) delete device.userName;
    }
    this.users.delete(user.name.toLowerCase());
  }
}

export function defaultTrustPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'sts:AssumeRole' }],
  });
}
