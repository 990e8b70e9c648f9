import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { currentStaticKey } from '../state/static-creds.js';
import { formatStaticCreds, OUTPUT_FORMATS, type OutputFormat } from './lease-format.js';
import { withState, type Run } from './runtime.js';

/** `credops static-creds NAME`: `vault read aws/static-creds/NAME`. Reads the state only (no AWS call). */
export function registerStaticCreds(program: Command, run: Run): void {
  program
    .command('static-creds')
    .description("the current key of a static role (vault read aws/static-creds/NAME); reads the state, needs CREDOPS_STATE_KEY")
    .argument('<name>')
    .option('--mount <mount>', 'secrets engine mount', 'aws')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (name: string, opts: { mount: string; format: OutputFormat }, command: Command) => {
      await printStaticCreds(run, command, opts.mount, name, opts.format);
    });
}

export async function printStaticCreds(run: Run, command: Command, mount: string, name: string, format: OutputFormat): Promise<void> {
  const text = await withState(
    command,
    run,
    async (state) => {
      const applied = await state.getApplied();
      const spec = applied.staticRoles?.find((s) => s.mount === mount && s.name === name);
      if (!spec) {
        const known = (applied.staticRoles ?? []).filter((s) => s.mount === mount).map((s) => s.name);
        throw new UserError(`No value found at ${mount}/static-creds/${name}: no static role "${name}" in mount ${mount} has been applied${known.length ? ` (static roles: ${known.join(', ')})` : ''}`);
      }
      const key = await currentStaticKey({ state, env: run.io.env }, spec);
      if (!key) throw new UserError(`No value found at ${mount}/static-creds/${name}: its first key is made by the next credops reconcile`);
      return formatStaticCreds(key, format);
    },
    { readOnly: true },
  );
  run.io.stdout(text);
}
