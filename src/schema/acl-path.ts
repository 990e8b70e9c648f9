/** A problem with a path pattern, in Vault's terms, or undefined. */
export function aclPathProblem(path: string): string | undefined {
  const star = path.indexOf('*');
  if (star !== -1 && star !== path.length - 1) return 'a "*" may only end a path (use "+" for one segment in the middle)';
  for (const segment of path.replace(/\*$/, '').split('/')) {
    if (segment.includes('+') && segment !== '+') return 'a "+" must be a whole path segment, such as "aws/+/dev-app"';
  }
  if (path.startsWith('/')) return 'paths have no leading "/" (write "aws/creds/ROLE", as Vault does)';
  return undefined;
}
