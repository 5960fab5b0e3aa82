// A stand-in for modsynclog-server's HTTP endpoint (web/API.md) with in-memory data, for
// working on the console without a server build, and for `MSL_MOCK=1 node console.test.mjs`.
//
//   node mock.mjs [--port 8080] [--token SECRET] [--feed RATE]
//
// Serves web/assets at `/`, the JSON API under /api/, and two mock-only endpoints:
// POST /mock/send {"type": 3, "lines": ["a", "b"]} or {"type": 3, "base64": "..."} appends
// records to today (like `modsynclog-client send`), answering {"ids": [...]}.
// --feed RATE appends RATE fake records a second to today (0: none; default 3).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), '..', 'assets');
const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/app.css': ['app.css', 'text/css; charset=utf-8'],
};
const utf8 = new TextDecoder('utf-8', { fatal: true });

function localDate(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function startMock({ port = 0, host = '127.0.0.1', token = '', feed = 3 } = {}) {
  const startedAt = Math.floor(Date.now() / 1000);
  const days = new Map(); // date -> {records: [{id, time, type, bytes}], finished}
  const perSecond = new Map(); // unix second -> records appended
  const followers = new Set();
  let appendedRecords = 0;
  let appendedBytes = 0;

  function append(date, type, bytes, time = Math.floor(Date.now() / 1000), count = true) {
    if (!days.has(date)) days.set(date, { records: [], finished: false });
    const day = days.get(date);
    const rec = { id: day.records.length, time, type, bytes };
    day.records.push(rec);
    if (count) {
      appendedRecords++;
      appendedBytes += bytes.length;
      perSecond.set(time, (perSecond.get(time) || 0) + 1);
      for (const f of followers) f(date, rec);
    }
    return rec.id;
  }

  // Past days: finished, a mix of text, JSON and binary payloads.
  const now = Date.now();
  const samples = (i) => [
    Buffer.from(`GET /api/items/${i} 200 ${i % 97}ms`),
    Buffer.from(JSON.stringify({ user: i % 13, event: 'login', ok: i % 5 !== 0, tags: ['a', 'b'] })),
    Buffer.from([0, 1, 2, 0xff, 0xfe, i & 0xff, 0x41, 0x42, 0x0a]),
    Buffer.from(`warn: disk ${i % 100}% full on /srv/<data> & "quotes"`),
  ][i % 4];
  for (const [back, n] of [[2, 1000], [1, 250]]) {
    const date = localDate(now - back * 86400e3);
    const t0 = Math.floor((now - back * 86400e3) / 1000) - 3600;
    for (let i = 0; i < n; i++) append(date, [3, 7, 9, 1201][i % 4], samples(i), t0 + i, false);
    days.get(date).finished = true;
  }

  let feedTimer = null;
  if (feed > 0) {
    let i = 0;
    feedTimer = setInterval(() => { i++; append(localDate(Date.now()), [3, 7, 9, 1201][i % 4], samples(i)); }, 1000 / feed);
  }

  const toJson = (date, r) => {
    let data, encoding = 'utf8';
    try { data = utf8.decode(r.bytes); } catch { data = r.bytes.toString('base64'); encoding = 'base64'; }
    return { date, id: r.id, time: r.time, type: r.type, encoding, data };
  };

  // type, q, re as the API takes them; throws {status, error} on a bad parameter.
  function filter(params) {
    const type = params.get('type');
    if (type != null && type !== '' && !/^\d+$/.test(type)) throw { status: 400, error: 'bad type' };
    const q = params.get('q');
    let re = null;
    if (params.get('re')) {
      try { re = new RegExp(params.get('re')); } catch (e) { throw { status: 400, error: `bad re: ${e.message}` }; }
    }
    return (r) => (type == null || type === '' || r.type === Number(type)) &&
      (!q || r.bytes.includes(Buffer.from(q))) && (!re || re.test(r.bytes.toString('latin1')));
  }

  function sendJson(res, status, body) {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  }

  function history() {
    const nowS = Math.floor(Date.now() / 1000);
    const points = [];
    for (let t = Math.max(startedAt, nowS - 299); t <= nowS; t++) {
      const lag = Math.max(0, Math.round(40 + 35 * Math.sin(t / 20)));
      points.push({ t, records_per_s: perSecond.get(t) || 0, bytes_per_s: (perSecond.get(t) || 0) * 60, lag_records: lag, lag_seconds: lag / 20 });
    }
    return { points };
  }

  const sorted = () => [...days.keys()].sort().reverse();

  function api(req, res, url) {
    const p = url.searchParams;
    if (token) {
      const auth = req.headers.authorization || '';
      if (auth !== `Bearer ${token}` && p.get('access_token') !== token) {
        return sendJson(res, 401, { error: 'missing or wrong token', code: 16 });
      }
    }
    const newest = sorted()[0];
    switch (url.pathname) {
      case '/api/status':
        return sendJson(res, 200, { role: 'server', version: '0.1.0-mock', started_at: startedAt,
          head: newest ? { date: newest, records: days.get(newest).records.length } : null,
          appended_records: appendedRecords, appended_bytes: appendedBytes });
      case '/api/days':
        return sendJson(res, 200, { days: sorted().map((date) => {
          const d = days.get(date);
          return { date, records: d.records.length, bytes: d.records.reduce((s, r) => s + r.bytes.length + 16, 0), finished: d.finished };
        }) });
      case '/api/replicas':
        return sendJson(res, 200, { replicas: newest ? [
          { address: '127.0.0.1:51234', protocol: 'native', date: newest, id: Math.max(0, days.get(newest).records.length - 3), lag_records: 3, lag_seconds: 0, connected_since: startedAt },
          { address: '127.0.0.1:51300', protocol: 'legacy', date: newest, id: 0, lag_records: days.get(newest).records.length, lag_seconds: 12.5, connected_since: startedAt + 5 },
        ] : [] });
      case '/api/producers':
        return sendJson(res, 200, { producers: [
          { address: '127.0.0.1:40000', source: 'native', connected_since: startedAt, records: appendedRecords, bytes: appendedBytes, rate: feed },
        ] });
      case '/api/config':
        return sendJson(res, 200, { data_dir: '/mock', grpc_addr: '127.0.0.1:1235', token: token ? 'set' : null });
      case '/api/history':
        return sendJson(res, 200, history());
      case '/api/records': {
        const date = p.get('date') || newest;
        if (!date || !days.has(date)) return sendJson(res, 404, { error: `no day ${date}`, code: 5 });
        let match;
        try { match = filter(p); } catch (e) { return sendJson(res, e.status, { error: e.error, code: 3 }); }
        const limit = Math.min(Number(p.get('limit') || 100), 1000);
        const from = Number(p.get('from') || 0);
        if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(from) || from < 0) {
          return sendJson(res, 400, { error: 'bad limit or from', code: 3 });
        }
        const all = days.get(date).records;
        const out = [];
        let i = from;
        for (; i < all.length && out.length < limit; i++) if (match(all[i])) out.push(toJson(date, all[i]));
        return sendJson(res, 200, { date, records: out.map(({ date: _, ...r }) => r),
          next: i < all.length ? i : null, scanned: i - from, day_records: all.length });
      }
      case '/api/follow': {
        let match;
        try { match = filter(p); } catch (e) { return sendJson(res, e.status, { error: e.error, code: 3 }); }
        if (followers.size >= 32) return sendJson(res, 503, { error: 'too many followers', code: 8 });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(': hello\n\n');
        const f = (date, r) => { if (match(r)) res.write(`event: record\ndata: ${JSON.stringify(toJson(date, r))}\n\n`); };
        followers.add(f);
        const keep = setInterval(() => res.write(': keep-alive\n\n'), 15000);
        req.on('close', () => { followers.delete(f); clearInterval(keep); });
        return undefined;
      }
      default:
        return sendJson(res, 404, { error: 'no such path', code: 5 });
    }
  }

  function mockSend(req, res) {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      let msg;
      try { msg = JSON.parse(body); } catch { return sendJson(res, 400, { error: 'bad json' }); }
      const type = msg.type ?? 1201;
      const payloads = msg.base64 ? [Buffer.from(msg.base64, 'base64')] : (msg.lines || []).map((l) => Buffer.from(l));
      const date = localDate(Date.now());
      return sendJson(res, 200, { date, ids: payloads.map((b) => append(date, type, b)) });
    });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://mock');
    if (req.method === 'POST' && url.pathname === '/mock/send') return mockSend(req, res);
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
    if (STATIC[url.pathname]) {
      const [file, type] = STATIC[url.pathname];
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      return res.end(readFileSync(join(ASSETS, file))); // read per request: edits show on reload
    }
    if (url.pathname.startsWith('/api/')) return api(req, res, url);
    return sendJson(res, 404, { error: 'no such path', code: 5 });
  });

  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const { port: bound } = server.address();
      resolve({
        url: `http://${host}:${bound}`,
        close() { clearInterval(feedTimer); server.closeAllConnections(); server.close(); },
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const m = await startMock({ port: Number(arg('port', 8080)), token: arg('token', ''), feed: Number(arg('feed', 3)) });
  console.log(`mock listening ${m.url}`);
  const stop = () => { m.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
