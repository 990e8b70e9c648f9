import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exec, loadAction, runAction, type ActionFile } from './action-runner.js';

/**
 * The install step of action.yml, run for real against a stand-in `npm` (no
 * network here): it records its calls and lays out what `npm ci` or
 * `npm install` would.
 */

const ROOT = resolve(import.meta.dirname, '../..');

const FAKE_NPM = `#!/usr/bin/env bash
echo "$PWD|$*" >>"$NPM_LOG"
case "$1" in
  ci)
    # "prepare" builds dist/ unless npm was told to skip scripts.
    [ -n "\${FAKE_IGNORE_SCRIPTS:-}" ] || { mkdir -p dist/cli; echo 'export {};' >dist/cli/main.js; }
    ;;
  run)
    mkdir -p dist/cli; echo 'export {};' >dist/cli/main.js
    ;;
  install)
    while [ $# -gt 0 ]; do [ "$1" = --prefix ] && prefix="$2"; shift; done
    mkdir -p "$prefix/node_modules/credops/bin"
    echo 'console.log("9.9.9-from-npm " + process.argv.slice(2).join(" "))' >"$prefix/node_modules/credops/bin/credops.js"
    ;;
esac
`;

describe('action.yml install step', () => {
  const full = loadAction(join(ROOT, 'action.yml'));
  const installOnly: ActionFile = {
    ...full,
    outputs: {},
    runs: { ...full.runs, steps: full.runs.steps.filter((s) => s.id === 'install') },
  };
  let tmp: string;
  let actionPath: string;
  let npmLog: string;
  let runnerTemp: string;
  let fakeBin: string;

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'credops-install-'));
    actionPath = join(tmp, 'action');
    mkdirSync(join(actionPath, 'bin'), { recursive: true });
    // The checkout's bin/credops.js; the real one imports dist/, which the fake npm only stubs.
    writeFileSync(join(actionPath, 'bin/credops.js'), 'console.log("0.1.0-checkout " + process.argv.slice(2).join(" "))\n');
    fakeBin = join(tmp, 'fake-bin');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'npm'), FAKE_NPM);
    chmodSync(join(fakeBin, 'npm'), 0o755);
    npmLog = join(tmp, 'npm.log');
    writeFileSync(npmLog, '');
    runnerTemp = join(tmp, 'runner-temp');
    mkdirSync(runnerTemp);
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  function install(inputs: Record<string, string> = {}, env: Record<string, string> = {}) {
    return runAction({
      action: installOnly,
      with: inputs,
      github: { action_path: actionPath, token: 't', event_name: 'push' },
      cwd: tmp,
      env: { PATH: `${fakeBin}:${process.env.PATH ?? ''}`, HOME: tmp, RUNNER_TEMP: runnerTemp, NPM_LOG: npmLog, ...env },
    });
  }
  const npmCalls = () => readFileSync(npmLog, 'utf8').split('\n').filter(Boolean);

  it("builds the action's own checkout with npm ci and leaves a credops command", async () => {
    const run = await install();
    const step = run.steps[0]!;
    expect(step.outcome).toBe('success');
    expect(npmCalls()).toEqual([`${actionPath}|ci --no-audit --no-fund`]); // prepare built dist/: no second build
    const binDir = step.outputs['bin-dir']!;
    expect(binDir).toBe(join(runnerTemp, 'credops-bin'));
    expect((await exec(join(binDir, 'credops'), ['plan', '--repo', 'a dir'], { PATH: process.env.PATH ?? '' }, tmp)).stdout).toBe(
      '0.1.0-checkout plan --repo a dir\n',
    );
  });

  it('builds explicitly when npm skipped the prepare script', async () => {
    const run = await install({}, { FAKE_IGNORE_SCRIPTS: '1' });
    expect(run.steps[0]!.outcome).toBe('success');
    expect(npmCalls()).toEqual([`${actionPath}|ci --no-audit --no-fund`, `${actionPath}|run build`]);
    expect(existsSync(join(actionPath, 'dist/cli/main.js'))).toBe(true);
  });

  it('installs once per job when the action is used twice (validate, then plan)', async () => {
    await install();
    const again = await install();
    expect(again.steps[0]!.stdout).toContain('credops is already installed in this job.');
    expect(npmCalls()).toHaveLength(1);
    expect(again.steps[0]!.outputs['bin-dir']).toBe(join(runnerTemp, 'credops-bin'));
  });

  it('installs the credops-version from npm instead of the checkout', async () => {
    const run = await install({ 'credops-version': '9.9.9' });
    expect(run.steps[0]!.outcome).toBe('success');
    expect(npmCalls()).toEqual([`${tmp}|install --no-audit --no-fund --prefix ${runnerTemp}/credops-npm credops@9.9.9`]);
    const credops = join(run.steps[0]!.outputs['bin-dir']!, 'credops');
    expect((await exec(credops, ['validate'], { PATH: process.env.PATH ?? '' }, tmp)).stdout).toBe('9.9.9-from-npm validate\n');
  });
});
