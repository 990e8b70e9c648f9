import type { Command } from 'commander';
import type { Run } from './runtime.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';

export function registerValidate(program: Command, run: Run): void {
  addRepoOptions(program.command('validate').description('validate every file of the secrets repo against the schemas'))
    .action(async (opts: RepoOptions) => {
      const { model, warnings } = await readDesired(opts, run.io);
      run.io.stdout(
        `Success! ${model.roles.length} roles, ${model.sinks.length} sinks, ${Object.keys(model.config.mounts).length} mounts are valid` +
          `${warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}.\n`,
      );
    });
}
