/**
 * Edits one profile of an AWS shared credentials file (INI) and nothing else:
 * every byte outside the profile's own lines (other profiles, comments, blank
 * lines, CRLF line endings, a missing final newline) is kept exactly, because
 * the file usually belongs to a person and holds profiles credops knows nothing of.
 */

/** A line with its own ending ("\n", "\r\n" or "" for a last line without one). */
interface Line {
  text: string;
  eol: string;
}

export interface IniSection {
  /** Index of the `[name]` line. */
  header: number;
  /** Index of the section's last key line (trailing comments and blanks belong to what follows). */
  last: number;
  /** Index of the next section's header, or the number of lines. */
  end: number;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  const re = /([^\n]*?)(\r?\n|$)/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text))) lines.push({ text: m[1]!, eol: m[2]! });
  return lines;
}

const join = (lines: Line[]) => lines.map((l) => l.text + l.eol).join('');
const HEADER = /^\s*\[([^\]]*)\]\s*(?:[#;].*)?$/;
const isBlank = (l: Line) => l.text.trim() === '';
const isComment = (l: Line) => /^\s*[#;]/.test(l.text);

function findSection(lines: Line[], profile: string): IniSection | undefined {
  const header = lines.findIndex((l) => HEADER.exec(l.text)?.[1]?.trim() === profile);
  if (header < 0) return undefined;
  let end = header + 1;
  while (end < lines.length && !HEADER.test(lines[end]!.text)) end++;
  let last = header;
  for (let i = header + 1; i < end; i++) if (!isBlank(lines[i]!) && !isComment(lines[i]!)) last = i;
  // The marker comment right under the header is ours too.
  if (last === header && header + 1 < end && isComment(lines[header + 1]!)) last = header + 1;
  return { header, last, end };
}

function lineEnding(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

function keyOf(line: Line): string | undefined {
  const m = /^\s*([^=\s#;[][^=]*?)\s*=/.exec(line.text);
  return m?.[1]?.toLowerCase();
}

/** The profile's lines, or undefined when the file has no such profile. */
export function readIniProfile(text: string, profile: string): string[] | undefined {
  const lines = splitLines(text);
  const section = findSection(lines, profile);
  return section ? lines.slice(section.header + 1, section.last + 1).map((l) => l.text) : undefined;
}

/**
 * Sets `marker` as the profile's first line and `entries` as its keys. Keys the
 * profile already has are rewritten in place, other keys (region, output ...)
 * are kept, `undefined` values drop the key; a missing profile is appended.
 */
export function setIniProfile(text: string, profile: string, marker: string, entries: [key: string, value: string | undefined][]): string {
  const eol = lineEnding(text);
  const lines = splitLines(text);
  const section = findSection(lines, profile);
  const wanted = new Map(entries.map(([k, v]) => [k.toLowerCase(), v]));
  const fresh = (t: string): Line => ({ text: t, eol });

  if (!section) {
    const out = [...lines];
    const tail = out[out.length - 1];
    if (tail && tail.eol === '') tail.eol = eol;
    if (tail && !isBlank(tail)) out.push(fresh(''));
    out.push(fresh(`[${profile}]`), fresh(marker));
    for (const [k, v] of entries) if (v !== undefined) out.push(fresh(`${k} = ${v}`));
    return join(out);
  }

  const body: Line[] = [];
  const written = new Set<string>();
  for (let i = section.header + 1; i <= section.last; i++) {
    const line = lines[i]!;
    if (i === section.header + 1 && isComment(line)) continue; // the previous marker
    const key = keyOf(line);
    if (key === undefined || !wanted.has(key)) {
      body.push({ ...line });
    } else {
      const value = wanted.get(key);
      if (value !== undefined && !written.has(key)) body.push({ text: `${key} = ${value}`, eol: line.eol });
      written.add(key);
    }
  }
  for (const [k, v] of entries) if (v !== undefined && !written.has(k.toLowerCase())) body.push(fresh(`${k} = ${v}`));

  const rebuilt = [{ ...lines[section.header]! }, fresh(marker), ...body];
  for (const line of rebuilt) line.eol ||= eol;
  // A file that ended without a newline inside this profile still does.
  if (section.last + 1 === lines.length) rebuilt[rebuilt.length - 1]!.eol = lines[section.last]!.eol;
  return join([...lines.slice(0, section.header), ...rebuilt, ...lines.slice(section.last + 1)]);
}

/**
 * Drops the profile's lines. When it is the file's last profile, the blank lines
 * that separated it (as setIniProfile appends them) go with it, so that publish
 * then remove gives the original file back.
 */
export function removeIniProfile(text: string, profile: string): string {
  const lines = splitLines(text);
  const section = findSection(lines, profile);
  if (!section) return text;
  let from = section.header;
  let to = section.last + 1;
  const restBlank = lines.slice(to).every(isBlank);
  if (restBlank) {
    to = lines.length;
    while (from > 0 && isBlank(lines[from - 1]!)) from--;
  }
  return join([...lines.slice(0, from), ...lines.slice(to)]);
}
