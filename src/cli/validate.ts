import type { Command } from 'commander';
import type { Run } from './runtime.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';

export function registerValidate(program: Command, run: Run): void {
  addRepoOptions(program.command('validate').description('validate every file of the secrets repo against the schemas'))
    .action(async (opts: RepoOptions) => {
      const { model, warnings } = await readDesired(opts, run.io);
      const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
      const mounts = Object.keys(model.config.mounts).length;
      run.io.stdout(
        `Success! ${count(model.roles.length, 'role')}, ${count(model.sinks.length, 'sink')}, ${count(mounts, 'mount')} ${model.roles.length + model.sinks.length + mounts === 1 ? 'is' : 'are'} valid` +
          `${warnings.length ? ` (${count(warnings.length, 'warning')})` : ''}.\n`,
      );
    });
}
