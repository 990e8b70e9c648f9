import type { Command } from 'commander';
import type { RootDeps } from '../engine/root.js';
/** Loaded when an action runs, not with the CLI (issue #11). */
const rootModule = () => import('../engine/root.js');
import { UserError } from '../errors.js';
import type { StateStore } from '../state/store.js';
import type { Location } from './location.js';
import { runtimeFor, withLock, withState, type Run } from './runtime.js';

interface MountOptions {
  mount: string;
}

/** `credops config root` and `credops config rotate-root` (Vault's aws/config/root and aws/config/rotate-root). */
export function registerConfig(program: Command, run: Run): void {
  const config = program.command('config').description("a mount's root identity: the AWS credentials credops acts as");

  config
    .command('root')
    .description('store root keys for a mount (secret access key on stdin, encrypted, never shown again); without --access-key, show where the identity comes from')
    .option('--mount <name>', 'secrets engine mount', 'aws')
    .option('--access-key <id>', 'access key id of the IAM user credops acts as; the secret access key is read from stdin')
    .action(async (opts: MountOptions & { accessKey?: string }, cmd: Command) => {
      if (opts.accessKey === undefined) {
        await withState(cmd, run, async (state, where) => run.io.stdout(table(await describeRows(await rootDeps(state, run, where), opts.mount))), { readOnly: true });
        return;
      }
      const secretAccessKey = await readSecretFromStdin(run);
      await withState(cmd, run, (state, where) =>
        withLock(cmd, state, 'config root', async () => {
          await warnIfMountNotApplied(state, opts.mount, run);
          const stored = await (await rootModule()).configureRoot(await rootDeps(state, run, where), { mount: opts.mount, accessKeyId: opts.accessKey!, secretAccessKey });
          run.io.stdout(`Success! Data written to: ${opts.mount}/config/root (access key ${stored.access_key_id})\n`);
        }),
      );
    });

  config
    .command('rotate-root')
    .description('replace the stored root key with a new key of the same IAM user that only credops knows')
    .option('--mount <name>', 'secrets engine mount', 'aws')
    .action(async (opts: MountOptions, cmd: Command) => {
      const result = await withState(cmd, run, (state, where) =>
        withLock(cmd, state, 'config rotate-root', async () => (await rootModule()).rotateRoot(await rootDeps(state, run, where), { mount: opts.mount })),
      );
      if (result.cleanedUp.length) {
        run.io.stderr(`A previous rotate-root was interrupted; deleted the key(s) it left: ${result.cleanedUp.join(', ')}.\n`);
      }
      run.io.stdout(table([['access_key', result.accessKeyId]]));
    });
}

async function rootDeps(state: StateStore, run: Run, where: Location): Promise<RootDeps> {
  return runtimeFor(state, run.io, where);
}

async function readSecretFromStdin(run: Run): Promise<string> {
  const secret = (await run.io.readStdin()).trim();
  if (!secret) {
    throw new UserError(
      'no secret access key on standard input: pipe it in, e.g. ' +
        '`printf %s "$SECRET_ACCESS_KEY" | credops config root --access-key AKIA...`',
    );
  }
  // Not echoed: whatever was piped in may be a secret.
  if (/\s/.test(secret)) throw new UserError('standard input must hold the secret access key alone, on one line');
  return secret;
}

/** Keys may be stored before the first reconcile applies credops.yaml, so an unknown mount is a warning, not an error. */
async function warnIfMountNotApplied(state: StateStore, mount: string, run: Run): Promise<void> {
  const applied = await state.getApplied();
  if (applied.mounts.length && !applied.mounts.some((m) => m.name === mount)) {
    run.io.stderr(`Warning: mount "${mount}" is not in the applied state (mounts: ${applied.mounts.map((m) => m.name).join(', ')}); storing the keys anyway.\n`);
  }
}

async function describeRows(deps: Pick<RootDeps, 'state' | 'env'>, mount: string): Promise<[string, string][]> {
  const d = await (await rootModule()).describeRoot(deps, mount);
  const rows: [string, string][] = [['mount', d.mount]];
  rows.push(['access_key', d.accessKeyId ?? 'n/a']);
  rows.push(['source', d.source]);
  rows.push(['user_name', d.userName ?? (d.accessKeyId && d.storedAt ? 'unknown until the first rotate-root' : 'n/a')]);
  if (d.storedAt) rows.push(['stored_at', d.storedAt]);
  if (d.interruptedRotation) {
    rows.push(['interrupted_rotation', `started ${d.interruptedRotation.started_at}; the next rotate-root cleans up after it`]);
  }
  return rows;
}

/** Vault's Key/Value table (`vault read`): columns separated by four spaces. */
function table(rows: [string, string][]): string {
  const width = Math.max(3, ...rows.map(([k]) => k.length)) + 4;
  const line = (k: string, v: string) => `${k.padEnd(width)}${v}\n`;
  return line('Key', 'Value') + line('---', '-----') + rows.map(([k, v]) => line(k, v)).join('');
}
