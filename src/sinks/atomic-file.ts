import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Credentials are for the owner alone. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Replaces the file so that a reader sees either the old content or the new,
 * never a half-written key, and a crash leaves one of the two on disk: the new
 * content goes to a temp file in the same directory (rename is atomic only
 * within one file system), mode 0600, is fsynced, then renamed over the target;
 * the directory is fsynced so the rename itself is durable. Missing directories
 * are created 0700. Errors are the file system's, untranslated.
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const fh = await open(tmp, 'wx', PRIVATE_FILE_MODE);
    try {
      await fh.writeFile(content, 'utf8');
      await fh.chmod(PRIVATE_FILE_MODE); // open's mode is subject to the umask
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dh = await open(dir, 'r').catch(() => undefined);
  await dh?.sync().catch(() => {}); // not supported on every platform; best effort
  await dh?.close();
}
