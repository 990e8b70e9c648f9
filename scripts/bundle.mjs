// Bundles the CLI into dist/ with esbuild: one file to load for the start-up path, and a chunk
// per lazily imported part (the AWS SDK, the engine, SQLite's wrapper, ...), loaded when a
// command needs it (issue #11). A start-up that resolves and compiles a few files instead of
// hundreds is most of what a short command costs. better-sqlite3 stays outside: it is native.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `node scripts/bundle.mjs [OUTDIR]`: dist/ by default; the test of the built CLI bundles into a temp dir.
const outdir = process.argv[2] ?? join(root, 'dist');
rmSync(outdir, { recursive: true, force: true });

/** A digest of the sources and schemas: what a plan's reuse of applied roles is tied to (src/load/reuse.ts), finer than the version. */
function buildId() {
  const hash = createHash('sha256');
  for (const dir of ['src', 'schemas']) {
    for (const file of readdirSync(join(root, dir), { recursive: true }).map(String).sort()) {
      if (!/\.(ts|json)$/.test(file)) continue;
      hash.update(`${dir}/${file}\0`).update(readFileSync(join(root, dir, file))).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

await build({
  absWorkingDir: root,
  entryPoints: { 'cli/main': 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  // @cdktf/hcl2json loads its WebAssembly from beside its own files.
  external: ['better-sqlite3', '@cdktf/hcl2json'],
  // ES module builds where a package has one: their named exports survive a lazy import().
  mainFields: ['module', 'main'],
  // CommonJS packages in an ES module bundle call require() for Node's built-ins.
  banner: { js: "import { createRequire as __credopsCreateRequire } from 'node:module'; const require = __credopsCreateRequire(import.meta.url);" },
  // Less source for V8 to parse on every start; identifiers are kept, for readable stack traces (with the source maps).
  minifyWhitespace: true,
  minifySyntax: true,
  define: { CREDOPS_BUILD_ID: JSON.stringify(buildId()) },
  logLevel: 'warning',
  legalComments: 'linked',
});
