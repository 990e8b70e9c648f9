#!/usr/bin/env node
// Posts the plan as ONE pull-request comment and updates it in place on every push,
// so a pull request shows the current plan rather than a history of stale ones.
// The comment is found by the hidden marker line that `credops plan --format markdown`
// starts with.
//
//   node pr-comment.mjs BODY_FILE
//
// Environment (all set by the GitHub runner except the token):
//   GITHUB_TOKEN       token with `pull-requests: write` (the action passes its github-token input)
//   GITHUB_REPOSITORY  owner/name
//   GITHUB_EVENT_PATH  the event JSON; the pull request number is read from it
//   GITHUB_API_URL     default https://api.github.com (GitHub Enterprise sets its own)
//   CREDOPS_PR_NUMBER  optional: the pull request number, overriding the event
import { readFileSync } from 'node:fs';

const MARKER = '<!-- credops-plan -->';

// GitHub rejects issue comments longer than 65,536 characters (422 "body is too long").
const MAX_COMMENT_CHARS = 65_536;
const PER_PAGE = 100;

class CommentError extends Error {}

function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new CommentError(`${name} is not set`);
  return value;
}

function pullRequestNumber() {
  const override = process.env.CREDOPS_PR_NUMBER;
  if (override) {
    if (!/^[1-9]\d*$/.test(override)) throw new CommentError(`CREDOPS_PR_NUMBER must be a number, got "${override}"`);
    return Number(override);
  }
  const path = requireEnv('GITHUB_EVENT_PATH');
  let event;
  try {
    event = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CommentError(`cannot read the event JSON ${path}: ${err.code ?? err.message}`);
  }
  const n = event?.pull_request?.number ?? event?.issue?.number ?? event?.number;
  if (!Number.isInteger(n)) {
    throw new CommentError('the event has no pull request number (run this on pull_request events, or set CREDOPS_PR_NUMBER)');
  }
  return n;
}

/** The body as posted: starts with the marker, cut to GitHub's limit with a note. */
function commentBody(text) {
  let body = text.trimStart().startsWith(MARKER) ? text.trimStart() : `${MARKER}\n${text}`;
  if (body.length > MAX_COMMENT_CHARS) {
    const note = '\n\n…\n\n**The plan is too long for a comment and was cut here; the full plan is in the job summary.**\n';
    body = body.slice(0, MAX_COMMENT_CHARS - note.length) + note;
  }
  return body;
}

/** The URL of the next page from a Link header (RFC 8288), or undefined on the last page. */
function nextLink(header) {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;.*\brel="?([^";]*)"?/.exec(part);
    if (m && m[2].split(/\s+/).includes('next')) return m[1];
  }
  return undefined;
}

function hint(status) {
  if (status === 401) return ' (the token is invalid or expired)';
  if (status === 403 || status === 404) {
    return ' (the token needs `permissions: pull-requests: write`; pull requests from forks get a read-only token)';
  }
  return '';
}

async function api(token, method, url, body) {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: {
        Accept: 'application/vnd.github+json',
        Authorization: `Bearer ${token}`,
        'X-GitHub-Api-Version': '2022-11-28',
        'User-Agent': 'credops-pr-comment',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CommentError(`${method} ${new URL(url).pathname} failed: ${err.cause?.code ?? err.message}`);
  }
  if (!res.ok) {
    let detail = '';
    try {
      detail = (await res.json()).message ?? '';
    } catch {
      // not JSON: the status line says enough
    }
    throw new CommentError(
      `GitHub API ${method} ${new URL(url).pathname} failed: ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}${hint(res.status)}`,
    );
  }
  return { json: await res.json(), link: res.headers.get('link') };
}

async function findMarkedComment(token, firstPage) {
  const origin = new URL(firstPage).origin;
  let url = firstPage;
  while (url) {
    const { json, link } = await api(token, 'GET', url);
    if (!Array.isArray(json)) throw new CommentError(`GitHub API GET ${new URL(url).pathname} did not return a list`);
    const found = json.find((c) => typeof c.body === 'string' && c.body.trimStart().startsWith(MARKER));
    if (found) return found;
    const next = nextLink(link);
    url = next === undefined ? undefined : new URL(next, origin).href;
    // The token goes with every request: follow pages on the API's own host only.
    if (url && new URL(url).origin !== origin) throw new CommentError(`the next page is on another host (${new URL(url).host}); not following it`);
  }
  return undefined;
}

async function upsertComment({ token, apiUrl, repository, number, text }) {
  const base = apiUrl.replace(/\/+$/, '');
  const body = commentBody(text);
  const existing = await findMarkedComment(token, `${base}/repos/${repository}/issues/${number}/comments?per_page=${PER_PAGE}`);
  if (existing) {
    const { json } = await api(token, 'PATCH', `${base}/repos/${repository}/issues/comments/${existing.id}`, { body });
    return { action: 'updated', id: json.id, url: json.html_url };
  }
  const { json } = await api(token, 'POST', `${base}/repos/${repository}/issues/${number}/comments`, { body });
  return { action: 'created', id: json.id, url: json.html_url };
}

async function run() {
  const file = process.argv[2];
  if (!file) throw new CommentError('usage: pr-comment.mjs BODY_FILE');
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommentError(`cannot read ${file}: ${err.code ?? err.message}`);
  }
  const token = requireEnv('GITHUB_TOKEN');
  const repository = requireEnv('GITHUB_REPOSITORY');
  if (!/^[^/\s]+\/[^/\s]+$/.test(repository)) throw new CommentError(`GITHUB_REPOSITORY must be owner/name, got "${repository}"`);
  const apiUrl = process.env.GITHUB_API_URL || 'https://api.github.com';
  const number = pullRequestNumber();
  const result = await upsertComment({ token, apiUrl, repository, number, text });
  console.log(`${result.action === 'created' ? 'Created' : 'Updated'} the plan comment on #${number}: ${result.url ?? result.id}`);
}

try {
  await run();
} catch (err) {
  // Only the message: nothing here ever holds the token, and a stack would not help a workflow author.
  console.error(`pr-comment: ${err instanceof CommentError ? '' : 'internal error: '}${err.message}`);
  process.exitCode = 1;
}
