/** One file of the secrets repo, as read: path relative to the repo root, "/" separators. */
export interface RepoFile {
  path: string;
  /** The file's text; "" when it could not be read as text (see problem). */
  text: string;
  /** Why the file could not be used as text (not UTF-8, too large), and where. */
  problem?: { message: string; line: number; column: number };
}

/** The secrets repo at one commit: every file credops may read. */
export interface RepoSnapshot {
  /** Where it was read from: the directory as given, or the git URL (credentials removed). */
  source: string;
  /** The commit SHA, or "dirty" for a directory with uncommitted changes or outside git. */
  commit: string;
  /** Absolute path of the directory the files were read from. */
  root: string;
  files: RepoFile[];
}

export interface ReadRepoOptions {
  /** A directory, or a git URL (https://, ssh://, git@host:path, file://). */
  repo: string;
  /** Branch, tag or commit to check out when repo is a git URL. Default: the remote's HEAD. */
  ref?: string;
  /** Where git URLs are cloned, one folder per URL. Default ".credops/cache" under cwd. */
  cacheDir?: string;
  /** Base of relative paths. Default process.cwd(). */
  cwd?: string;
}
