import type { Command } from 'commander';
import type { Run } from './runtime.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';

export function registerValidate(program: Command, run: Run): void {
  addRepoOptions(program.command('validate').description('validate every file of the secrets repo against the schemas'))
    .action(async (opts: RepoOptions) => {
      const { model, warnings } = await readDesired(opts, run.io);
      const count = (n: number, what: string, plural = `${what}s`) => `${n} ${n === 1 ? what : plural}`;
      const mounts = Object.keys(model.config.mounts).length;
      const parts = [count(model.roles.length, 'role'), count(model.sinks.length, 'sink'), count(mounts, 'mount')];
      const { access } = model;
      if (access) parts.push(count(access.auth.length, 'auth method'), count(access.roles.length, 'auth role'), count(access.acl.length, 'ACL policy', 'ACL policies'));
      const total = model.roles.length + model.sinks.length + mounts + (access ? access.auth.length + access.roles.length + access.acl.length : 0);
      run.io.stdout(`Success! ${parts.join(', ')} ${total === 1 ? 'is' : 'are'} valid${warnings.length ? ` (${count(warnings.length, 'warning')})` : ''}.\n`);
    });
}
