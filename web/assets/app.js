// modsynclog web console: dashboard, records browser and live tail over the JSON API
// (web/API.md). Vanilla JS, no build step, no network beyond the server itself.
// Every piece of data reaches the DOM through textContent or attributes, never innerHTML.
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);
  const TOKEN_KEY = 'modsynclog.token';
  const LIVE_MAX = 500; // records kept in the live list (older ones are dropped)
  const SHOW_MAX = 64 * 1024; // characters of one payload shown (a record can be megabytes)
  const HEX_MAX = 4096; // bytes of one payload shown in the hex view

  // ---------- DOM helpers ----------

  // el('td', {class: 'num', text: '12'}, child...): children are nodes or strings (text nodes).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const c of children) if (c != null) node.append(c);
    return node;
  }
  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    if (text != null) node.textContent = text;
    return node;
  }
  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
  }

  // ---------- formatting ----------

  const intFmt = new Intl.NumberFormat('en-US');
  const fmtInt = (n) => (n == null ? '–' : intFmt.format(Math.round(n)));
  function fmtNum(n) {
    if (n == null) return '–';
    return n >= 100 || Number.isInteger(n) ? fmtInt(n) : n.toFixed(n >= 10 ? 1 : 2);
  }
  function fmtBytes(n) {
    if (n == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? `${n} B` : `${n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
  }
  // A duration in seconds, the largest two units: "3d 4h", "5m 10s".
  function fmtAge(s) {
    s = Math.max(0, Math.floor(s));
    const parts = [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
    const out = [];
    for (const [u, name] of parts) {
      if (s >= u || (u === 1 && !out.length)) { out.push(Math.floor(s / u) + name); s %= u; }
      if (out.length === 2) break;
    }
    return out.join(' ');
  }
  const since = (t) => fmtAge(Date.now() / 1000 - t);
  // Local time as ISO 8601 with its offset, so a reader sees their own clock unambiguously.
  function localIso(sec) {
    const d = new Date(Math.floor(sec) * 1000);
    const p = (n) => String(n).padStart(2, '0');
    const off = -d.getTimezoneOffset();
    const sign = off >= 0 ? '+' : '-';
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:` +
      `${p(d.getMinutes())}:${p(d.getSeconds())}${sign}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  }

  // ---------- API and auth ----------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

  // Relative URLs ("api/…"), so the console also works behind a proxy under a sub-path.
  function apiUrl(path, params, withToken) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') qs.set(k, v);
    // EventSource cannot send headers: the API takes the token as a query parameter too.
    if (withToken && token()) qs.set('access_token', token());
    const s = qs.toString();
    return s ? `${path}?${s}` : path;
  }

  // GET a JSON endpoint. `probe`: only learn the status of a stream endpoint (the body of a
  // 200 never ends, so it is dropped at once).
  async function api(path, params, probe) {
    const headers = { Accept: 'application/json' };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    const ctl = new AbortController();
    let res;
    try {
      res = await fetch(apiUrl(path, params, false), { headers, cache: 'no-store', signal: ctl.signal });
      if (probe && res.ok) { ctl.abort(); return null; }
    } catch (e) {
      setConn('down');
      throw new ApiError(0, 'server unreachable');
    }
    setConn(res.status === 401 ? 'auth' : 'up');
    let body = null;
    try { body = await res.json(); } catch (e) { /* an error page that is not JSON */ }
    if (res.status === 401) {
      showAuth(token() ? 'The token was refused.' : 'This server needs its read-scope token.');
    }
    if (!res.ok) throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}`);
    return body;
  }

  function setConn(state) {
    const c = $('#conn');
    c.dataset.state = state;
    c.title = { up: 'connected', down: 'server unreachable', auth: 'token needed' }[state] || '';
  }

  // While the prompt is up, polling stops: each poll would only answer 401 again.
  let authPending = false;
  function showAuth(msg) {
    authPending = true;
    liveClose();
    $('#auth-msg').textContent = msg;
    $('#auth').hidden = false;
    $('#auth-token').focus();
  }
  $('#auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('#auth-token').value.trim());
    $('#auth-token').value = '';
    $('#auth').hidden = true;
    authPending = false;
    $('#auth-clear').hidden = false;
    route(); // reload the current view with the token
  });
  $('#auth-clear').hidden = !token();
  $('#auth-clear').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $('#auth-clear').hidden = true;
    route();
  });

  // ---------- router: #view?param=value ----------

  const views = {
    dashboard: { enter: dashEnter, leave: dashLeave },
    records: { enter: recordsEnter, leave() {} },
    live: { enter: liveEnter, leave: liveClose },
  };
  let current = null;

  function parseHash() {
    const h = location.hash.replace(/^#/, '');
    const i = h.indexOf('?');
    const name = i < 0 ? h : h.slice(0, i);
    return { name: views[name] ? name : 'dashboard', params: new URLSearchParams(i < 0 ? '' : h.slice(i + 1)) };
  }

  function route() {
    const { name, params } = parseHash();
    if (current && current !== name) views[current].leave();
    current = name;
    for (const v of Object.keys(views)) $(`#view-${v}`).hidden = v !== name;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    views[name].enter(params);
  }
  window.addEventListener('hashchange', route);

  // Navigates to a hash; re-runs the route when it is already the current one (a search
  // submitted twice still searches again).
  function go(hash) {
    const before = location.hash;
    location.hash = hash;
    if (location.hash === before) route(); // no hashchange event for an unchanged hash
  }

  // ---------- dashboard ----------

  const dash = { timer: null, busy: false, history: [] };

  function dashEnter() {
    dashLeave();
    dashRefresh();
    dash.timer = setInterval(dashRefresh, 2000);
  }
  function dashLeave() {
    clearInterval(dash.timer);
    dash.timer = null;
  }

  async function dashRefresh() {
    if (dash.busy || authPending || document.hidden) return;
    dash.busy = true;
    try {
      // Each part renders on its own: one failing endpoint leaves the others useful.
      const [status, history, days, replicas, producers] = await Promise.allSettled([
        api('api/status'), api('api/history'), api('api/days'), api('api/replicas'), api('api/producers'),
      ]);
      if (current !== 'dashboard') return;
      if (status.status === 'fulfilled') renderStatus(status.value);
      else $('#status-line').textContent = `status: ${status.reason.message}`;
      if (history.status === 'fulfilled') { dash.history = history.value.points || []; drawCharts(); }
      if (days.status === 'fulfilled') renderDays(days.value.days || []);
      if (replicas.status === 'fulfilled') renderReplicas(replicas.value.replicas || []);
      if (producers.status === 'fulfilled') renderProducers(producers.value.producers || []);
    } finally {
      dash.busy = false;
    }
  }

  function renderStatus(s) {
    const head = s.head ? `head ${s.head.date} · ${fmtInt(s.head.records)} records` : 'nothing stored yet';
    const parts = [s.role, `v${s.version}`, head];
    if (s.started_at) parts.push(`up ${since(s.started_at)}`);
    $('#status-line').textContent = parts.join(' · ');
  }

  // Replaces a table's body with rows; an empty table shows its "none" note instead.
  function fillTable(id, rows) {
    $(`#${id} tbody`).replaceChildren(...rows);
    document.querySelector(`[data-empty-for="${id}"]`).hidden = rows.length > 0;
  }
  const td = (text, cls) => el('td', { class: cls, text });

  function renderDays(days) {
    fillTable('days-table', days.map((d) => el('tr', { 'data-date': d.date },
      el('td', null, el('a', { href: `#records?date=${encodeURIComponent(d.date)}`, text: d.date })),
      td(fmtInt(d.records), 'num'), td(fmtBytes(d.bytes), 'num'), td(d.finished ? 'yes' : 'open'))));
  }

  function renderReplicas(list) {
    fillTable('replicas-table', list.map((r) => el('tr', null,
      td(r.address), td(r.protocol), td(`${r.date} #${fmtInt(r.id)}`),
      td(fmtInt(r.lag_records), 'num'), td(fmtNum(r.lag_seconds), 'num'), td(since(r.connected_since), 'num'))));
  }

  function renderProducers(list) {
    fillTable('producers-table', list.map((p) => el('tr', null,
      td(p.address), td(p.source), td(fmtInt(p.records), 'num'), td(fmtBytes(p.bytes), 'num'),
      td(fmtNum(p.rate), 'num'), td(since(p.connected_since), 'num'))));
  }

  // ---------- charts (inline SVG, drawn at the element's pixel size so text is not stretched) ----------

  const WINDOW_S = 300; // the history covers the last 5 minutes

  function drawCharts() {
    const pts = dash.history;
    const last = pts[pts.length - 1];
    drawChart($('#ingest-chart'), pts, 'records_per_s', fmtNum);
    drawChart($('#lag-chart'), pts, 'lag_records', fmtInt);
    $('#ingest-now').textContent = last ? `${fmtNum(last.records_per_s)} rec/s` : '';
    $('#lag-now').textContent = last ? `${fmtInt(last.lag_records)} records` : '';
  }
  window.addEventListener('resize', () => { if (current === 'dashboard') drawCharts(); });

  // Rounds up to 1, 2 or 5 times a power of ten, so the axis label is a readable number.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
  }

  function drawChart(node, points, key, fmt) {
    const w = Math.max(node.clientWidth, 200);
    const h = Math.max(node.clientHeight, 80);
    node.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const pad = { l: 2, r: 2, t: 14, b: 14 };
    const kids = [];
    if (!points.length) {
      kids.push(svgEl('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle', class: 'axis' }, 'no data yet'));
      node.replaceChildren(...kids);
      return;
    }
    const tEnd = points[points.length - 1].t;
    const max = niceMax(Math.max(...points.map((p) => p[key] || 0)));
    const x = (t) => pad.l + (1 - (tEnd - t) / WINDOW_S) * (w - pad.l - pad.r);
    const y = (v) => h - pad.b - ((v || 0) / max) * (h - pad.t - pad.b);
    for (const frac of [1, 0.5, 0]) {
      const gy = y(max * frac);
      kids.push(svgEl('line', { x1: pad.l, x2: w - pad.r, y1: gy, y2: gy, class: 'grid' }));
    }
    kids.push(svgEl('text', { x: pad.l + 2, y: pad.t - 3, class: 'axis' }, fmt(max)));
    kids.push(svgEl('text', { x: pad.l + 2, y: h - 2, class: 'axis' }, '−5 min'));
    kids.push(svgEl('text', { x: w - pad.r - 2, y: h - 2, class: 'axis', 'text-anchor': 'end' }, 'now'));
    // One point alone still draws as a short flat line.
    const pts = points.length === 1 ? [{ ...points[0], t: points[0].t - 1 }, points[0]] : points;
    const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join('');
    const base = y(0).toFixed(1);
    kids.push(svgEl('path', { d: `${line}L${x(tEnd).toFixed(1)},${base}L${x(pts[0].t).toFixed(1)},${base}Z`, class: 'area' }));
    kids.push(svgEl('path', { d: line, class: 'line' }));
    node.replaceChildren(...kids);
  }

  // ---------- payloads ----------

  // The bytes of a payload (base64 for non-UTF-8 payloads), decoded once and kept.
  function payloadBytes(rec) {
    if (!rec._bytes) {
      if (rec.encoding === 'base64') {
        const bin = atob(rec.data);
        rec._bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      } else {
        rec._bytes = new TextEncoder().encode(rec.data);
      }
    }
    return rec._bytes;
  }

  // Bytes that are not text, shown escaped like a Rust byte string: printable ASCII as is.
  function escapeBytes(b) {
    let out = '';
    const n = Math.min(b.length, SHOW_MAX / 4);
    for (let i = 0; i < n; i++) {
      const c = b[i];
      if (c === 0x5c) out += '\\\\';
      else if (c === 0x0a) out += '\\n';
      else if (c === 0x0d) out += '\\r';
      else if (c === 0x09) out += '\\t';
      else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
      else out += '\\x' + c.toString(16).padStart(2, '0');
    }
    return out + more(b.length - n, 'bytes');
  }

  function hexDump(b) {
    const n = Math.min(b.length, HEX_MAX);
    const lines = [];
    for (let off = 0; off < n; off += 16) {
      const row = b.subarray(off, Math.min(off + 16, n));
      const hex = Array.from(row, (c) => c.toString(16).padStart(2, '0')).join(' ');
      const ascii = Array.from(row, (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
      lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
    }
    return lines.join('\n') + more(b.length - n, 'bytes');
  }
  const more = (n, what) => (n > 0 ? `\n… ${fmtInt(n)} more ${what}` : '');

  function payloadText(rec, mode) {
    if (mode === 'hex') return hexDump(payloadBytes(rec));
    if (rec.encoding === 'base64') return escapeBytes(payloadBytes(rec));
    let text = rec.data;
    if (mode === 'json') {
      try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: shown as text */ }
    }
    return text.length > SHOW_MAX ? text.slice(0, SHOW_MAX) + more(text.length - SHOW_MAX, 'characters') : text;
  }

  function recordEl(rec, mode, withDate) {
    const id = withDate ? `${rec.date} #${rec.id}` : `#${rec.id}`;
    return el('article', { class: 'record', 'data-id': rec.id },
      el('div', { class: 'meta' },
        el('span', { class: 'rid', text: id }),
        el('time', { datetime: new Date(rec.time * 1000).toISOString(), text: localIso(rec.time) }),
        el('span', { class: 'rtype', text: `type ${rec.type}` }),
        rec.encoding === 'base64' ? el('span', { class: 'badge', text: 'binary' }) : null),
      el('pre', { class: mode === 'hex' ? 'payload hex' : 'payload', text: payloadText(rec, mode) }));
  }

  // ---------- records browser ----------

  const recs = { seq: 0, page: null, params: new URLSearchParams() };

  function recordsEnter(params) {
    recs.params = params;
    // The form shows the search the hash holds, so a shared link reproduces it.
    const re = params.has('re');
    $('#rec-q').value = (re ? params.get('re') : params.get('q')) || '';
    $('#rec-regex').checked = re;
    $('#rec-type').value = params.get('type') || '';
    const view = params.get('view');
    if (['text', 'json', 'hex'].includes(view)) $('#rec-view').value = view;
    loadDays(params.get('date'));
    search(params);
  }

  async function loadDays(want) {
    try {
      const { days } = await api('api/days');
      const sel = $('#rec-date');
      sel.replaceChildren(...(days || []).map((d) =>
        el('option', { value: d.date, text: `${d.date} (${fmtInt(d.records)})` })));
      selectDay(want || (recs.page && recs.page.date) || '');
    } catch (e) { /* the search shows the error */ }
  }

  // Selects a day in the picker, adding it when the list does not have it (yet).
  function selectDay(date) {
    const sel = $('#rec-date');
    if (!date) return;
    if (![...sel.options].some((o) => o.value === date)) sel.append(el('option', { value: date, text: date }));
    sel.value = date;
  }

  async function search(params) {
    const seq = ++recs.seq; // a newer search wins over a slower older one
    const list = $('#rec-list');
    list.setAttribute('aria-busy', 'true');
    delete list.dataset.search;
    $('#rec-error').hidden = true;
    $('#rec-next').disabled = true;
    $('#rec-info').textContent = 'searching…';
    const q = { limit: 100 };
    for (const k of ['date', 'from', 'type', 'q', 're']) if (params.get(k)) q[k] = params.get(k);
    try {
      const page = await api('api/records', q);
      if (seq !== recs.seq) return;
      recs.page = page;
      selectDay(page.date);
      renderRecords();
    } catch (e) {
      if (seq !== recs.seq) return;
      recs.page = null;
      list.replaceChildren();
      $('#rec-info').textContent = '';
      $('#rec-error').textContent = e.status === 404 ? 'No such day (or nothing stored yet).' : e.message;
      $('#rec-error').hidden = false;
    } finally {
      if (seq === recs.seq) {
        // Which search the list shows: the hash changes at once, the search runs after the
        // hashchange event, so "not busy" alone may still describe the previous search.
        list.dataset.search = params.toString();
        list.setAttribute('aria-busy', 'false');
      }
    }
  }

  function renderRecords() {
    const page = recs.page;
    if (!page) return;
    const mode = $('#rec-view').value;
    const rs = page.records || [];
    $('#rec-list').replaceChildren(...rs.map((r) => recordEl(r, mode, false)));
    if (!page.date) { // an empty store has no newest day
      $('#rec-info').textContent = 'Nothing stored yet.';
      $('#rec-next').disabled = true;
      return;
    }
    const first = rs.length ? rs[0].id : 0;
    const last = rs.length ? rs[rs.length - 1].id : 0;
    const span = !rs.length ? '' : first === last ? ` · id ${first}` : ` · ids ${first}–${last}`;
    let info = `${page.date}: ${fmtInt(rs.length)} shown${span} · scanned ${fmtInt(page.scanned)} of ${fmtInt(page.day_records)}`;
    if (!rs.length) info += page.next == null ? ' · no match' : ' · no match yet: Next scans on';
    $('#rec-info').textContent = info;
    $('#rec-next').disabled = page.next == null;
  }

  // The form's search as hash parameters; the hash change runs it (and history keeps it).
  function formParams() {
    const p = new URLSearchParams();
    const date = $('#rec-date').value;
    if (date) p.set('date', date);
    const type = $('#rec-type').value.trim();
    if (type) p.set('type', type);
    const text = $('#rec-q').value;
    if (text) p.set($('#rec-regex').checked ? 're' : 'q', text);
    if ($('#rec-view').value !== 'text') p.set('view', $('#rec-view').value);
    return p;
  }

  $('#rec-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(`#records?${formParams()}`);
  });
  $('#rec-next').addEventListener('click', () => {
    if (!recs.page || recs.page.next == null) return;
    const p = new URLSearchParams(recs.params);
    p.set('date', recs.page.date);
    p.set('from', recs.page.next);
    go(`#records?${p}`);
  });
  // The payload view only re-renders the page; the hash is updated without a new search.
  $('#rec-view').addEventListener('change', () => {
    const p = new URLSearchParams(recs.params);
    if ($('#rec-view').value === 'text') p.delete('view');
    else p.set('view', $('#rec-view').value);
    recs.params = p;
    history.replaceState(null, '', `#records?${p}`);
    renderRecords();
  });

  // ---------- live tail ----------

  const live = { es: null, retry: null, paused: false, queue: [], held: [], count: 0, frame: 0 };

  function liveEnter() {
    liveConnect();
  }

  function setLiveState(state, text) {
    const s = $('#live-state');
    s.dataset.state = state;
    s.textContent = text || state;
    // A hook for the browser test (and anyone scripting the page): the stream is open.
    window.__mslLiveOpen = state === 'open';
  }

  function liveClose() {
    clearTimeout(live.retry);
    live.retry = null;
    if (live.es) { live.es.close(); live.es = null; }
    setLiveState('closed');
  }

  function liveConnect() {
    liveClose();
    if (authPending) return;
    const params = {};
    const type = $('#live-type').value.trim();
    if (type) params.type = type;
    const text = $('#live-q').value;
    if (text) params[$('#live-regex').checked ? 're' : 'q'] = text;
    const es = new EventSource(apiUrl('api/follow', params, true));
    live.es = es;
    setLiveState('connecting', 'connecting…');
    es.onopen = () => setLiveState('open', 'live');
    es.addEventListener('record', (ev) => {
      let r;
      try { r = JSON.parse(ev.data); } catch (e) { return; }
      onLiveRecord(r);
    });
    es.onerror = () => {
      if (live.es !== es) return;
      if (es.readyState === EventSource.CONNECTING) {
        setLiveState('reconnecting', 'reconnecting…'); // the browser retries by itself
        return;
      }
      // Closed for good: the server answered an error (401, 400, 503). Ask the API why,
      // which also brings up the token prompt on a 401; retry later otherwise.
      es.close();
      live.es = null;
      setLiveState('error', 'disconnected');
      const stale = () => current !== 'live' || live.es || live.retry;
      api('api/follow', params, true).then(() => {
        if (!stale()) live.retry = setTimeout(liveConnect, 3000);
      }, (e) => {
        if (e.status === 401 || stale()) return;
        setLiveState('error', `disconnected: ${e.message}`);
        if (e.status !== 400) live.retry = setTimeout(liveConnect, 3000); // a bad filter stays bad
      });
    };
  }

  // Records are queued and drawn once per frame: a fast stream costs one DOM update per
  // frame, not one per record.
  function onLiveRecord(r) {
    live.count++;
    const q = live.paused ? live.held : live.queue;
    q.push(r);
    if (q.length > LIVE_MAX) q.splice(0, q.length - LIVE_MAX);
    if (!live.paused && !live.frame) live.frame = requestAnimationFrame(flushLive);
    showLiveCount();
  }

  function flushLive() {
    live.frame = 0;
    const list = $('#live-list');
    const frag = document.createDocumentFragment();
    for (let i = live.queue.length - 1; i >= 0; i--) frag.append(recordEl(live.queue[i], 'text', true));
    live.queue = [];
    list.prepend(frag); // newest on top
    while (list.childElementCount > LIVE_MAX) list.lastElementChild.remove();
  }

  function showLiveCount() {
    const held = live.paused ? ` · paused, ${fmtInt(live.held.length)} held` : '';
    $('#live-count').textContent = `· ${fmtInt(live.count)} received${held}`;
  }

  $('#live-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    liveConnect();
  });
  $('#live-pause').addEventListener('click', () => {
    live.paused = !live.paused;
    $('#live-pause').textContent = live.paused ? 'Resume' : 'Pause';
    $('#live-pause').setAttribute('aria-pressed', String(live.paused));
    if (!live.paused && live.held.length) {
      live.queue.push(...live.held);
      live.held = [];
      if (!live.frame) live.frame = requestAnimationFrame(flushLive);
    }
    showLiveCount();
  });
  $('#live-clear').addEventListener('click', () => {
    $('#live-list').replaceChildren();
    live.count = 0;
    live.held = [];
    showLiveCount();
  });

  // Polling resumes at once when the tab is shown again.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && current === 'dashboard') dashRefresh();
  });

  route();
})();
