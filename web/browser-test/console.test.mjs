// Browser test of the web console (web/assets): headless Chromium (Debian's `chromium`,
// driven by puppeteer-core) against a real modsynclog-server from the debug build, or,
// with MSL_MOCK=1, against mock.mjs (which also has a token, to test the prompt).
//
//   node console.test.mjs          env: MSL_BIN_DIR (default <repo>/target/debug),
//                                  MSL_MOCK=1, CHROMIUM (default: `which chromium`)
//
// It builds nothing: scripts/test.sh runs it after `cargo test` built the binaries.
// Screenshots go to target/web-screenshots/. Exits non-zero with the reason on a failure.
import puppeteer from 'puppeteer-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const MOCK = process.env.MSL_MOCK === '1';
const binDir = resolve(process.env.MSL_BIN_DIR || join(repo, 'target', 'debug'));
const shots = join(repo, 'target', 'web-screenshots');
const WAIT_MS = 15000; // the longest any awaited page state may take
const MOCK_TOKEN = 'mock-secret';

// ---------- cleanup that runs however the test ends ----------

const children = new Set(); // processes we started, killed on any exit
const tempDirs = new Set();
let browser = null;

function killAllSync() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { console.error(`\ninterrupted (${sig})`); process.exit(sig === 'SIGINT' ? 130 : 143); });
}

// SIGTERM, then SIGKILL after 5 s; resolves when the process is gone.
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

// ---------- the backend: a real server or the mock ----------

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

// Starts a process and waits until its output matches every pattern; returns the matches.
function startAndWatch(cmd, args, patterns, what) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  children.add(child);
  child.log = '';
  return new Promise((resolveP, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s; its output:\n${child.log}`)), 30000);
    const onData = (chunk) => {
      child.log += stripAnsi(chunk.toString());
      const found = patterns.map((p) => child.log.match(p));
      if (found.every(Boolean)) { clearTimeout(timer); resolveP({ child, found: found.map((m) => m[1]) }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${what}: ${e.message}`)); });
    child.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`${what} exited (${code ?? sig}) before it listened; its output:\n${child.log}`)); });
  });
}

async function startBackend() {
  if (MOCK) {
    const { child, found } = await startAndWatch(process.execPath,
      [join(here, 'mock.mjs'), '--port', '0', '--feed', '0', '--token', MOCK_TOKEN], [/mock listening (\S+)/], 'mock server');
    const url = found[0];
    return {
      url, child, what: 'mock.mjs',
      async send(type, lines) {
        const res = await fetch(`${url}/mock/send`, { method: 'POST', body: JSON.stringify({ type, lines }) });
        if (!res.ok) throw new Error(`mock send: HTTP ${res.status}`);
      },
    };
  }
  for (const b of ['modsynclog-server', 'modsynclog-client']) {
    if (!existsSync(join(binDir, b))) throw new Error(`${join(binDir, b)} is missing: build it first (cargo build -p modsynclog-server) or set MSL_BIN_DIR`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'msl-web-test-'));
  tempDirs.add(dir);
  // The log fields are `grpc_addr=IP:PORT` and `http_addr=IP:PORT` (tolerating a quoted
  // value or a Debug-printed `Some(IP:PORT)`).
  const { child, found } = await startAndWatch(join(binDir, 'modsynclog-server'),
    ['--data-dir', dir, '--grpc-addr', '127.0.0.1:0', '--sync-addr', 'off', '--http-addr', '127.0.0.1:0'],
    [/gRPC ingest listening.*?grpc_addr="?([\d.:[\]]+)/, /http listening.*?http_addr=(?:Some\()?"?([\d.:[\]]+)/i], 'modsynclog-server');
  const [grpc, http] = found;
  return {
    url: `http://${http}`, child, what: `modsynclog-server (gRPC ${grpc})`,
    // Each line becomes one record; resolves once the client exits 0 (all acknowledged).
    send(type, lines) {
      return new Promise((resolveP, reject) => {
        const c = spawn(join(binDir, 'modsynclog-client'), ['send', '--server', grpc, '--type', String(type)],
          { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
        children.add(c);
        let out = '';
        c.stdout.on('data', (d) => { out += d; });
        c.stderr.on('data', (d) => { out += d; });
        const t = setTimeout(() => c.kill('SIGKILL'), 30000);
        c.on('exit', (code, sig) => {
          clearTimeout(t);
          children.delete(c);
          if (code === 0) resolveP();
          else reject(new Error(`modsynclog-client send exited (${code ?? sig}):\n${out}`));
        });
        c.stdin.end(lines.join('\n') + '\n');
      });
    },
  };
}

// ---------- small test harness ----------

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    results.push({ name, ms: Date.now() - t0, error: e });
    throw e;
  }
  results.push({ name, ms: Date.now() - t0 });
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

// Waits for a page state; a time-out names the state instead of puppeteer's generic text.
async function waitFor(page, what, fn, ...args) {
  try {
    await page.waitForFunction(fn, { timeout: WAIT_MS }, ...args);
  } catch (e) {
    throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
  }
}

// Waits until the record list shows the result of a search for `text`, the one the page's
// hash holds. The hash changes when the form is submitted but the search starts on the
// hashchange event after that: until it ends, the list (not busy) is still the previous one.
async function waitForSearch(page, text) {
  await waitFor(page, `the result of the search for ${text}`, (t) => {
    const h = location.hash;
    const params = new URLSearchParams(h.includes('?') ? h.slice(h.indexOf('?') + 1) : '');
    const list = document.querySelector('#rec-list');
    return (params.get('q') === t || params.get('re') === t) &&
      list.getAttribute('aria-busy') === 'false' && list.dataset.search === params.toString();
  }, text);
}

function localDate(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// The texts of the .record elements under a list that contain `needle`, and how many records there are.
const recordsWith = (page, list, needle) => page.$$eval(`${list} .record`,
  (els, n) => ({ total: els.length, matching: els.filter((e) => e.textContent.includes(n)).map((e) => e.textContent) }), needle);

// ---------- the test ----------

async function main() {
  const t0 = Date.now();
  mkdirSync(shots, { recursive: true });
  const chromium = process.env.CHROMIUM || execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  const run = randomBytes(4).toString('hex');
  const needle = `needle-${run}`;
  const jsonNeedle = `json-${run}`;

  const backend = await startBackend();
  console.log(`backend: ${backend.what} at ${backend.url} (${Date.now() - t0} ms)`);
  let page = null;
  let passed = false;
  try {
    browser = await puppeteer.launch({ executablePath: chromium, headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    const noErrors = (when) => assert(errors.length === 0, `no console or page errors ${when}, got:\n  ${errors.join('\n  ')}`);

    // Known records: plain lines of type 7 (one with the needle), a JSON payload of type 9.
    const lines7 = ['alpha first line', `the ${needle} is here`, 'gamma <b>not bold</b> & "quoted"'];
    const total = lines7.length + 1;
    await step(`commit ${total} records`, async () => {
      await backend.send(7, lines7);
      await backend.send(9, [JSON.stringify({ user: 42, msg: jsonNeedle, tags: ['x', 'y'] })]);
    });

    if (MOCK) {
      await step('token prompt on 401, then the token is sent', async () => {
        await page.goto(`${backend.url}/#dashboard`);
        await waitFor(page, 'the token form', () => !document.querySelector('#auth-form').closest('[hidden]'));
        await page.type('#auth-token', MOCK_TOKEN);
        await page.click('#auth-submit');
        await waitFor(page, 'the status line after the token', () => /server/.test(document.querySelector('#status-line').textContent));
        // The 401 answers before the token are expected to log resource errors; nothing else.
        const other = errors.filter((e) => !/401/.test(e));
        errors.length = 0;
        errors.push(...other);
        noErrors('around the token prompt');
      });
    }

    const today = localDate();
    await step('dashboard: days table, charts, no errors', async () => {
      await page.goto(`${backend.url}/#dashboard`);
      await waitFor(page, `a days-table row for ${today} with ${total} records`, (date, n) =>
        [...document.querySelectorAll('#days-table tbody tr')].some((tr) =>
          tr.cells[0] && tr.cells[0].textContent.trim() === date && tr.cells[1].textContent.replace(/\D/g, '') === String(n)),
      today, total);
      await waitFor(page, 'the ingest chart to draw', () => {
        const c = document.querySelector('#ingest-chart');
        if (!c) return false;
        if (c.tagName.toLowerCase() === 'canvas') {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          return d.some((v) => v !== 0);
        }
        return [...c.querySelectorAll('path, polyline')].some((p) => (p.getAttribute('d') || p.getAttribute('points') || '').length > 10);
      });
      assert(await page.$('#lag-chart'), '#lag-chart exists');
      for (const t of ['#replicas-table', '#producers-table']) assert(await page.$(`table${t}`), `${t} is a table`);
      await new Promise((r) => setTimeout(r, 300)); // let the first 2 s refresh settle for the picture
      await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true });
      noErrors('on the dashboard');
    });

    await step('dashboard at 420 px: no sideways scroll', async () => {
      await page.setViewport({ width: 420, height: 900 });
      await waitFor(page, 'the charts to redraw at 420 px', () => document.querySelector('#ingest-chart').getBoundingClientRect().width < 420);
      const sw = await page.evaluate(() => document.documentElement.scrollWidth);
      assert(sw <= 420, `page is ${sw} px wide at a 420 px viewport`);
      await page.screenshot({ path: join(shots, 'dashboard-420.png'), fullPage: true });
      await page.setViewport({ width: 1280, height: 900 });
    });

    await step('records: text search finds exactly the needle record', async () => {
      await page.click('#nav a[href="#records"]');
      await waitFor(page, `${today} in the day picker`, (d) => [...document.querySelectorAll('#rec-date option')].some((o) => o.value === d), today);
      await page.$eval('#rec-q', (e) => { e.value = ''; });
      await page.type('#rec-q', needle);
      await page.click('#rec-search');
      await waitForSearch(page, needle);
      const { total: shown, matching } = await recordsWith(page, '#rec-list', needle);
      assert(matching.length === 1, `exactly one .record has the needle, got ${matching.length}`);
      assert(shown === 1, `the search shows only the match, got ${shown} records`);
      assert(/type 7/.test(matching[0]) && /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(matching[0]), `the record shows its type and time: ${matching[0]}`);
      assert(/scanned/.test(await page.$eval('#rec-info', (e) => e.textContent)), 'the scanned count is shown');
    });

    await step('records: json and hex views', async () => {
      await page.$eval('#rec-q', (e) => { e.value = ''; });
      await page.type('#rec-q', jsonNeedle);
      await page.click('#rec-search');
      await waitForSearch(page, jsonNeedle);
      assert((await recordsWith(page, '#rec-list', jsonNeedle)).total === 1, 'the search shows the JSON record alone');
      await page.select('#rec-view', 'json');
      const pretty = await page.$eval('#rec-list .record .payload', (e) => e.textContent);
      assert(pretty.includes('\n  "user": 42,'), `json view pretty-prints: ${JSON.stringify(pretty)}`);
      await page.select('#rec-view', 'hex');
      const hex = await page.$eval('#rec-list .record .payload', (e) => e.textContent);
      assert(/^00000000 {2}7b 22 75 73 65 72/.test(hex) && hex.includes('|{"user":42'), `hex view shows offset, hex, ascii: ${JSON.stringify(hex)}`);
      assert((await page.evaluate(() => location.hash)).includes('view=hex'), 'the view is in the hash');
    });

    await step('records: a link reproduces a search', async () => {
      await page.goto('about:blank');
      await page.goto(`${backend.url}/#records?date=${today}&q=${encodeURIComponent(needle)}`);
      await waitForSearch(page, needle);
      assert(await page.$eval('#rec-q', (e) => e.value) === needle, 'the search box holds the linked text');
      assert((await recordsWith(page, '#rec-list', needle)).total === 1, 'the linked search shows one record');
      // The day's records in the JSON view, for the picture; the markup in a payload stays text.
      await page.goto(`${backend.url}/#records?date=${today}&view=json`);
      await waitFor(page, `all ${total} records of the day`, (n) => document.querySelectorAll('#rec-list .record').length === n, total);
      assert(await page.$('#rec-list b') === null, 'payload markup is escaped, not parsed');
      await page.screenshot({ path: join(shots, 'records.png') });
    });

    await step('live: a committed record shows up', async () => {
      await page.click('#nav a[href="#live"]');
      await waitFor(page, 'the live stream to open', () => window.__mslLiveOpen === true ||
        (document.querySelector('#live-state') || {}).dataset?.state === 'open');
      const live = `live-${run}`;
      await backend.send(5, [`first ${live}`]);
      await waitFor(page, 'the live record', (n) => [...document.querySelectorAll('#live-list .record')].some((e) => e.textContent.includes(n)), live);
      await backend.send(5, [`second ${live}`]);
      await waitFor(page, 'the second live record, on top', (n) =>
        (document.querySelector('#live-list .record') || {}).textContent?.includes(`second ${n}`), live);
    });

    await step('live: filter and pause', async () => {
      const keep = `keep-${run}`;
      await page.type('#live-q', keep);
      await page.click('#live-apply');
      await waitFor(page, 'the filtered stream to open', () => window.__mslLiveOpen === true);
      // In one send, in order: if the filter let the first through, it would arrive first.
      await backend.send(6, [`drop-${run}`, `${keep} one`]);
      await waitFor(page, 'the filtered record', (n) => document.querySelector('#live-list').textContent.includes(n), `${keep} one`);
      assert((await recordsWith(page, '#live-list', `drop-${run}`)).matching.length === 0, 'the filter drops what does not match');
      await page.click('#live-pause');
      await backend.send(6, [`${keep} two`]);
      await waitFor(page, 'the paused record to be counted', () => /1 held/.test(document.querySelector('#live-count').textContent));
      assert((await recordsWith(page, '#live-list', `${keep} two`)).matching.length === 0, 'paused: the record is held back');
      await page.click('#live-pause');
      await waitFor(page, 'the held record after resume', (n) => document.querySelector('#live-list').textContent.includes(n), `${keep} two`);
      await page.screenshot({ path: join(shots, 'live.png') });
      noErrors('in the whole run');
    });
    passed = true;
  } finally {
    const t = Date.now();
    if (!passed) {
      // What the page and the server showed when it failed.
      if (page) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
      console.error(`page at failure: target/web-screenshots/failure.png; ${backend.what} output (last 3000 chars):\n${backend.child.log.slice(-3000)}`);
    }
    if (browser) await browser.close().catch(() => {});
    await stop(backend.child);
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    tempDirs.clear();
    console.log(`stopped browser and backend (${Date.now() - t} ms; backend exit ${backend.child.exitCode ?? backend.child.signalCode})`);
  }
  console.log(`screenshots: ${shots}/{dashboard,dashboard-420,records,live}.png`);
  console.log(`web console ${MOCK ? '(mock) ' : ''}in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

try {
  await main();
  console.log(`${results.length} passed, 0 failed`);
  process.exit(0);
} catch (e) {
  const failed = results.find((r) => r.error);
  console.error(`\nFAIL ${failed ? failed.name : 'setup'}: ${e.message}`);
  console.log(`${results.filter((r) => !r.error).length} passed, 1 failed`);
  process.exit(1);
}
