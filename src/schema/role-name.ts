import { IAM_USER_NAME_MAX } from '../limits.js';

/**
 * Vault's role-name rule (framework.GenericNameWithAtRegex): letters, digits,
 * "_", "-", ".", "@", starting and ending with a letter, digit or "_". The
 * name also goes into IAM user and session names, hence the length bound.
 */
const ROLE_NAME = /^\w(?:[\w.@-]*\w)?$/;

export function roleNameProblem(name: string): string | undefined {
  if (!ROLE_NAME.test(name)) {
    return `role name "${name}" is not a valid Vault role name: use letters, digits, "_", "-", ".", "@", starting and ending with a letter, digit or "_"`;
  }
  if (name.length > IAM_USER_NAME_MAX) return `role name "${name}" is ${name.length} characters; at most ${IAM_USER_NAME_MAX}`;
  return undefined;
}
