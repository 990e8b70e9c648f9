import { UserError } from '../errors.js';
import type { CredentialType, RoleSpec } from '../model/types.js';
import { assumedRole } from './assumed-role.js';
import type { CredentialKind } from './credential-type.js';
import { federationToken } from './federation-token.js';
import { iamUser } from './iam-user.js';
import { sessionToken } from './session-token.js';

/** Every credential type credops issues (Vault's credential_type), in one place. */
export const credentialKinds: Record<CredentialType, CredentialKind> = {
  iam_user: iamUser,
  assumed_role: assumedRole,
  federation_token: federationToken,
  session_token: sessionToken,
};

export function credentialKind(type: string): CredentialKind | undefined {
  return Object.hasOwn(credentialKinds, type) ? credentialKinds[type as CredentialType] : undefined;
}

/**
 * The path a role is read at when the caller names none (a sink,
 * credential_process): creds/ when any of its types is read there, so a legacy
 * role holding iam_user and federation_token is read at creds/, like Vault's
 * aws/creds/ROLE.
 */
export function defaultPathOf(role: RoleSpec): 'creds' | 'sts' {
  return role.credential_types.some((t) => credentialKinds[t].defaultPath === 'creds') ? 'creds' : 'sts';
}

/**
 * Vault's rule (path_user.go) for which type a request uses: a role with one
 * type uses it on either path; a legacy role holding iam_user and
 * federation_token uses iam_user for creds and federation_token for sts.
 */
export function credentialKindFor(role: RoleSpec, path: 'creds' | 'sts'): CredentialKind {
  const [only, ...more] = role.credential_types;
  if (!only) throw new UserError(`${role.mount}/roles/${role.name} has no credential_type`);
  if (!more.length) return credentialKinds[only];
  const legacy: CredentialType = path === 'creds' ? 'iam_user' : 'federation_token';
  if (!role.credential_types.includes(legacy)) {
    throw new UserError(`${role.mount}/roles/${role.name} has several credential types (${role.credential_types.join(', ')}); only iam_user with federation_token is supported`);
  }
  return credentialKinds[legacy];
}
