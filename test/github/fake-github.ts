import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeComment {
  id: number;
  body: string;
  issue: number;
}

export interface FakeRequest {
  method: string;
  path: string;
  authorization: string | undefined;
}

/**
 * Just enough of GitHub's REST API for issue comments: list (paginated with a
 * Link header, per_page capped at 100 as GitHub does), create, update.
 */
export class FakeGitHub {
  readonly comments: FakeComment[] = [];
  readonly requests: FakeRequest[] = [];
  private nextId = 1000;
  private server: Server | undefined;
  url = '';
  /** Where Link headers point; a test sets another host to play a hostile API. */
  linkBase: string | undefined;

  constructor(
    readonly repository: string,
    readonly token: string,
  ) {}

  addComment(issue: number, body: string): FakeComment {
    const c = { id: this.nextId++, body, issue };
    this.comments.push(c);
    return c;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => send(res, 500, { message: String(err) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((resolve, reject) => this.server!.close((err) => (err ? reject(err) : resolve())));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, authorization: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${this.token}`) return send(res, 401, { message: 'Bad credentials' });
    const body = await readBody(req);
    const prefix = `/repos/${this.repository}/issues`;
    const list = new RegExp(`^${prefix}/(\\d+)/comments$`).exec(url.pathname);
    const one = new RegExp(`^${prefix}/comments/(\\d+)$`).exec(url.pathname);

    if (list && req.method === 'GET') {
      const issue = Number(list[1]);
      const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
      const page = Number(url.searchParams.get('page') ?? 1);
      const all = this.comments.filter((c) => c.issue === issue);
      const last = Math.max(1, Math.ceil(all.length / perPage));
      const links: string[] = [];
      const pageUrl = (p: number) => `${this.linkBase ?? this.url}${url.pathname}?per_page=${perPage}&page=${p}`;
      if (page < last) links.push(`<${pageUrl(page + 1)}>; rel="next"`, `<${pageUrl(last)}>; rel="last"`);
      if (page > 1) links.push(`<${pageUrl(1)}>; rel="first"`, `<${pageUrl(page - 1)}>; rel="prev"`);
      const slice = all.slice((page - 1) * perPage, page * perPage).map((c) => this.json(c));
      return send(res, 200, slice, links.length ? { link: links.join(', ') } : {});
    }
    if (list && req.method === 'POST') {
      const c = this.addComment(Number(list[1]), String((JSON.parse(body) as { body: unknown }).body));
      return send(res, 201, this.json(c));
    }
    if (one && req.method === 'PATCH') {
      const c = this.comments.find((x) => x.id === Number(one[1]));
      if (!c) return send(res, 404, { message: 'Not Found' });
      c.body = String((JSON.parse(body) as { body: unknown }).body);
      return send(res, 200, this.json(c));
    }
    return send(res, 404, { message: 'Not Found' });
  }

  private json(c: FakeComment) {
    return { id: c.id, body: c.body, html_url: `https://github.example/${this.repository}/pull/${c.issue}#issuecomment-${c.id}` };
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(json));
}
