/**
 * The live dashboard: one self-contained HTML page (inline CSS and JS, no external resources) that
 * the admin listener serves at `GET /`. It opens `new EventSource('events')` (relative, so it works
 * behind a path prefix), and every `event: snapshot` (`data: <LiveSnapshot JSON>`) updates the
 * totals, the 60-second charts (hand-drawn inline SVG) and the tables.
 *
 * Every string that comes from a snapshot (upstream labels come from config) reaches the DOM
 * through `textContent` or an attribute value, never through markup.
 *
 * The page runs under a strict Content-Security-Policy: serve it with `dashboardCsp()` as the
 * `Content-Security-Policy` header (the inline script and style are allowed by their hashes).
 *
 * Test hooks: numbers carry `data-testid` (`rps`, `total-requests`, `total-errors`, `open-connections`,
 * `reloads-ok`, `reloads-failed`, `p50`, `p90`, `p99`, `eps`, `cache-ratio`) and a raw `data-value`;
 * the connection indicator is `data-testid="connection"` with `data-state` live | disconnected |
 * connecting; upstream rows are `data-testid="upstream-row"` with `data-state` and `data-upstream`.
 */
import { createHash } from 'node:crypto';

const CSS = String.raw`
:root {
  color-scheme: light;
  --bg: #eef1f6; --card: #ffffff; --ink: #0f172a; --muted: #5b6576; --line: #e3e7ee; --grid: #edf0f5;
  --top: #0b1220; --top-ink: #e6ebf5; --top-muted: #8e9ab0;
  --ok: #15803d; --ok-bg: #dcfce7; --bad: #b91c1c; --bad-bg: #fee2e2; --warn: #b45309; --warn-bg: #fef3c7;
  --drain: #4338ca; --drain-bg: #e0e7ff;
  --rps: #2563eb; --err: #dc2626; --p50: #0891b2; --p90: #d97706; --p99: #7c3aed;
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body {
  background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  font-variant-numeric: tabular-nums;
}
.top {
  background: var(--top); color: var(--top-ink);
  display: flex; align-items: center; gap: 16px; flex-wrap: wrap;
  padding: 12px 24px; box-shadow: 0 1px 0 rgba(255,255,255,.06) inset, 0 2px 6px rgba(2,6,23,.25);
}
.brand { display: flex; align-items: center; gap: 10px; margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .2px; }
.brand .sub { color: var(--top-muted); font-weight: 450; font-size: 14px; }
.logo { width: 22px; height: 22px; }
.spacer { flex: 1; }
.conn {
  display: inline-flex; align-items: center; gap: 8px; padding: 4px 12px; border-radius: 999px;
  background: rgba(148,163,184,.14); font-size: 13px; font-weight: 600;
}
.conn .dot { width: 9px; height: 9px; border-radius: 50%; background: #94a3b8; }
.conn[data-state="live"] { background: rgba(34,197,94,.16); color: #bbf7d0; }
.conn[data-state="live"] .dot { background: #22c55e; box-shadow: 0 0 0 3px rgba(34,197,94,.25); animation: pulse 2s ease-in-out infinite; }
.conn[data-state="disconnected"] { background: rgba(239,68,68,.18); color: #fecaca; }
.conn[data-state="disconnected"] .dot { background: #ef4444; }
@keyframes pulse { 50% { box-shadow: 0 0 0 6px rgba(34,197,94,0); } }
@media (prefers-reduced-motion: reduce) { .conn .dot { animation: none !important; } }
.updated { color: var(--top-muted); font-size: 13px; }
main { max-width: 1440px; margin: 0 auto; padding: 20px 24px 32px; display: grid; gap: 16px; }
.kpis { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px; margin: 0; padding: 0; list-style: none; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.kpi .label { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .5px; }
.kpi .value { font-size: 26px; font-weight: 650; line-height: 1.2; margin-top: 2px; white-space: nowrap; }
.kpi .unit { font-size: 13px; color: var(--muted); font-weight: 500; margin-left: 3px; }
.kpi .note { color: var(--muted); font-size: 12px; margin-top: 2px; }
.kpi .value .bad { color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(12, minmax(0, 1fr)); gap: 16px; }
.s4 { grid-column: span 4; } .s5 { grid-column: span 5; } .s6 { grid-column: span 6; }
.s7 { grid-column: span 7; } .s8 { grid-column: span 8; } .s12 { grid-column: span 12; }
@media (max-width: 1100px) {
  .s4, .s5, .s6, .s7 { grid-column: span 6; } .s8, .m12 { grid-column: span 12; }
  .kpis { grid-template-columns: repeat(3, minmax(0, 1fr)); }
}
@media (max-width: 720px) {
  .s4, .s5, .s6, .s7, .s8, .m12 { grid-column: span 12; }
  main { padding: 12px; gap: 12px; } .grid { gap: 12px; } .top { padding: 10px 12px; }
  .kpis { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
  .kpi .value { font-size: 22px; }
  .brand .sub { display: none; }
  .pool table, #certs table { width: 560px; }
  .c-state { width: 112px; } .c-num { width: 78px; } .c-weight { width: 60px; }
}
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px 12px; min-width: 0; }
.card h2 { font-size: 14px; font-weight: 650; margin: 0 0 8px; display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; }
.sub-line { color: var(--muted); font-size: 13px; font-weight: 500; min-height: 20px; }
.sub-line b { color: var(--ink); font-weight: 650; }
.card h2 .aside { margin-left: auto; color: var(--muted); font-weight: 500; font-size: 13px; }
.chart { display: block; width: 100%; height: 170px; }
.chart text { font-size: 11px; fill: var(--muted); }
.legend { display: flex; gap: 14px; flex-wrap: wrap; }
.legend b { color: var(--ink); font-weight: 650; }
.swatch { display: inline-block; width: 10px; height: 3px; border-radius: 2px; vertical-align: middle; margin-right: 5px; }
.sw-p50 { background: var(--p50); } .sw-p90 { background: var(--p90); } .sw-p99 { background: var(--p99); }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 13px; table-layout: fixed; }
.c-state { width: 140px; } .c-num { width: 92px; } .c-weight { width: 70px; } .c-date { width: 104px; } .c-days { width: 84px; }
.c-issuer { width: 28%; } .c-blocks { width: 120px; }
caption { text-align: left; font-weight: 650; padding: 6px 0; caption-side: top; }
caption .aside { color: var(--muted); font-weight: 500; margin-left: 6px; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px; border-bottom: 1px solid var(--line); padding: 6px 8px; white-space: nowrap; }
td { border-bottom: 1px solid var(--grid); padding: 7px 8px; vertical-align: middle; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.label { overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.pool + .pool { margin-top: 10px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 650; white-space: nowrap; border: 1px solid transparent; }
.st-healthy { color: var(--ok); background: var(--ok-bg); border-color: #bbf7d0; }
.st-unhealthy { color: var(--bad); background: var(--bad-bg); border-color: #fecaca; }
.st-ejected { color: var(--warn); background: var(--warn-bg); border-color: #fde68a; }
.st-draining { color: var(--drain); background: var(--drain-bg); border-color: #c7d2fe; }
.st-unknown { color: var(--muted); background: var(--grid); }
.days-ok { color: var(--ok); background: var(--ok-bg); }
.days-warn { color: var(--warn); background: var(--warn-bg); }
.days-crit { color: var(--bad); background: var(--bad-bg); }
.empty { color: var(--muted); padding: 18px 0; text-align: center; font-size: 13px; }
.big { font-size: 30px; font-weight: 650; }
.bar { height: 8px; background: var(--grid); border-radius: 999px; overflow: hidden; margin: 8px 0 10px; }
.bar > span { display: block; height: 100%; width: 0; background: var(--ok); border-radius: 999px; transition: width .4s ease; }
.mini { display: inline-block; height: 6px; min-width: 2px; background: var(--err); border-radius: 999px; opacity: .75; vertical-align: middle; }
.row { display: flex; gap: 18px; color: var(--muted); font-size: 13px; flex-wrap: wrap; }
.row b { color: var(--ink); }
[hidden] { display: none !important; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0,0,0,0); white-space: nowrap; border: 0; }
`;

/** Browser script. Plain ES2017, no template literals (this file embeds it in one). */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var WINDOW = 60;
  var intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  var oneFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  var es = null, retryMs = 1000, retryTimer = 0, lastAt = 0, last = null, drawQueued = false;

  function $(id) { return document.getElementById(id); }
  function num(x) { return typeof x === 'number' && isFinite(x) ? x : 0; }
  function str(x) { return x === undefined || x === null ? '' : String(x); }
  function arr(x) { return Array.isArray(x) ? x : []; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function setText(e, t) { if (e.textContent !== t) e.textContent = t; }
  function setNum(id, n, text) {
    var e = $(id);
    setText(e, text === undefined ? intFmt.format(n) : text);
    e.setAttribute('data-value', String(n));
  }
  function ms(n) { return n >= 100 ? intFmt.format(n) : oneFmt.format(n); }
  function pct(f) {
    var p = 100 * f;
    if (p > 0 && p < 0.1) return (p < 0.001 ? '<0.001' : p.toPrecision(2).replace(/0+$/, '')) + '%';
    return oneFmt.format(p) + '%';
  }
  function compact(n) {
    if (n >= 1e6) return oneFmt.format(n / 1e6) + 'M';
    if (n >= 1e4) return oneFmt.format(n / 1e3) + 'k';
    return oneFmt.format(n);
  }

  // ---- connection ---------------------------------------------------------------------------
  function setConn(state) {
    var c = $('conn');
    if (c.getAttribute('data-state') === state) return;
    c.setAttribute('data-state', state);
    setText($('conn-text'), state === 'live' ? 'live' : state === 'connecting' ? 'connecting' : 'disconnected');
  }
  function connect() {
    clearTimeout(retryTimer);
    if (es) es.close();
    if (!lastAt) setConn('connecting');
    es = new EventSource('events');
    es.addEventListener('open', function () { retryMs = 1000; });
    es.addEventListener('snapshot', function (ev) {
      var snap;
      try { snap = JSON.parse(ev.data); } catch (e) { return; }
      if (!snap || typeof snap !== 'object') return;
      lastAt = Date.now();
      setConn('live');
      last = snap;
      render(snap);
    });
    es.addEventListener('error', function () {
      setConn('disconnected');
      // CONNECTING: the browser retries by itself. CLOSED (HTTP error, wrong type): we retry.
      if (es.readyState === 2) {
        es.close();
        retryTimer = setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 15000);
      }
    });
  }
  // Snapshots come every second: silence means the stream is stuck even if the socket is open.
  setInterval(function () {
    if (!lastAt) return;
    var quiet = Date.now() - lastAt;
    if (quiet > 4000) setConn('disconnected');
    if (quiet > 15000 && es && es.readyState === 1) { lastAt = Date.now() - 4001; connect(); }
  }, 1000);

  // ---- charts -------------------------------------------------------------------------------
  /** Top of the y axis: 4 gridline steps of 1, 2, 2.5 or 5 × 10^k that cover v. */
  function niceMax(v) {
    if (!(v > 0)) return 4;
    var raw = v / 4;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] === 2.5 && p < 10) continue; // whole-number ticks for small counts
      if (steps[i] * p >= raw - 1e-9) return 4 * Math.max(steps[i] * p, 0.25);
    }
    return 40 * p;
  }
  /** Values for the last WINDOW seconds ending at 'end', by key; gaps are zero. */
  function series(secs, end, key) {
    var byT = {};
    for (var i = 0; i < secs.length; i++) byT[num(secs[i].t)] = secs[i];
    var out = [];
    for (var t = end - WINDOW + 1; t <= end; t++) out.push(byT[t] ? num(byT[t][key]) : 0);
    return out;
  }
  function drawChart(id, lines, unit, label) {
    var root = $(id);
    var W = Math.max(200, Math.round(root.getBoundingClientRect().width || root.parentNode.clientWidth || 400));
    var H = 170, L = 44, R = 10, T = 10, B = 22;
    var pw = W - L - R, ph = H - T - B;
    var max = 0;
    lines.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    var top = niceMax(max);
    var n = WINDOW;
    function x(i) { return L + (pw * i) / (n - 1); }
    function y(v) { return T + ph - (ph * Math.min(v, top)) / top; }
    var kids = [];
    for (var g = 0; g <= 4; g++) {
      var gv = (top * g) / 4, gy = y(gv);
      kids.push(svg('line', { x1: L, x2: W - R, y1: gy, y2: gy, stroke: g === 0 ? '#cbd2dc' : '#edf0f5', 'stroke-width': 1 }));
      var tl = svg('text', { x: L - 6, y: gy + 4, 'text-anchor': 'end' });
      tl.textContent = compact(gv);
      kids.push(tl);
    }
    [[0, '-60s'], [15, '-45s'], [30, '-30s'], [45, '-15s'], [59, 'now']].forEach(function (m) {
      var xl = svg('text', { x: x(m[0]), y: H - 5, 'text-anchor': m[0] === 0 ? 'start' : m[0] === 59 ? 'end' : 'middle' });
      xl.textContent = m[1];
      kids.push(xl);
    });
    lines.forEach(function (s) {
      var d = '';
      if (s.bars) {
        var bw = Math.max(1, pw / n - 2);
        s.values.forEach(function (v, i) {
          if (v <= 0) return;
          var yy = y(v);
          kids.push(svg('rect', { x: Math.max(L, x(i) - bw / 2), y: yy, width: bw, height: T + ph - yy, fill: s.color, rx: 1 }));
        });
        return;
      }
      // With a mask, seconds without requests are gaps (no latency to show), not zeros.
      var pen = false;
      s.values.forEach(function (v, i) {
        if (s.mask && !(s.mask[i] > 0)) { pen = false; return; }
        var alone = s.mask && !(s.mask[i + 1] > 0) && !pen;
        d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1) + (alone ? 'h0.01' : '');
        pen = true;
      });
      if (s.fill) {
        kids.push(svg('path', { d: d + 'L' + x(n - 1).toFixed(1) + ' ' + y(0) + 'L' + x(0).toFixed(1) + ' ' + y(0) + 'Z', fill: s.color, 'fill-opacity': 0.12, stroke: 'none' }));
      }
      kids.push(svg('path', { d: d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 2, 'stroke-linejoin': 'round', 'stroke-linecap': 'round' }));
    });
    root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    root.setAttribute('width', String(W));
    root.setAttribute('height', String(H));
    root.setAttribute('aria-label', label + ' over the last 60 seconds; peak ' + compact(max) + (unit ? ' ' + unit : ''));
    root.replaceChildren.apply(root, kids);
  }

  // ---- tables -------------------------------------------------------------------------------
  var STATES = { healthy: 1, unhealthy: 1, ejected: 1, draining: 1 };
  function headRow(cols) {
    var thead = el('thead'), tr = el('tr');
    cols.forEach(function (c) {
      var th = el('th', c[1] || '', c[0]);
      th.setAttribute('scope', 'col');
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    return thead;
  }
  function td(text, cls) { return el('td', cls || '', text); }

  function renderPools(pools, now) {
    var root = $('pools');
    var nodes = [];
    var up = 0, total = 0;
    if (!pools.length) nodes.push(el('p', 'empty', 'no upstream pools configured'));
    pools.forEach(function (p) {
      var ups = arr(p.upstreams);
      var healthy = ups.filter(function (u) { return u && u.state === 'healthy'; }).length;
      up += healthy; total += ups.length;
      var wrap = el('div', 'pool table-wrap');
      var table = el('table');
      table.setAttribute('data-testid', 'pool');
      table.setAttribute('data-pool', str(p.name));
      var cap = el('caption', '', str(p.name));
      cap.appendChild(el('span', 'aside', str(p.balance) + ' · ' + healthy + '/' + ups.length + ' healthy'));
      table.appendChild(cap);
      table.appendChild(headRow([['Upstream'], ['State', 'c-state'], ['In flight', 'num c-num'], ['Latency', 'num c-num'], ['Weight', 'num c-weight']]));
      var tbody = el('tbody');
      ups.forEach(function (u) {
        u = u || {};
        var state = str(u.state);
        var tr = el('tr');
        tr.setAttribute('data-testid', 'upstream-row');
        tr.setAttribute('data-upstream', str(u.label));
        tr.setAttribute('data-state', state);
        var lab = td(str(u.label), 'label');
        lab.title = str(u.url);
        tr.appendChild(lab);
        var badgeText = state;
        if (state === 'ejected' && num(u.ejectedUntil) > now) badgeText += ' · ' + Math.ceil((num(u.ejectedUntil) - now) / 1000) + 's';
        var cell = el('td');
        var b = el('span', 'badge ' + (STATES[state] ? 'st-' + state : 'st-unknown'), badgeText);
        b.setAttribute('data-testid', 'upstream-state');
        cell.appendChild(b);
        tr.appendChild(cell);
        tr.appendChild(td(intFmt.format(num(u.inflight)), 'num'));
        tr.appendChild(td(num(u.latencyMs) > 0 ? ms(num(u.latencyMs)) + ' ms' : '—', 'num'));
        tr.appendChild(td(oneFmt.format(num(u.weight)), 'num'));
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      wrap.appendChild(table);
      nodes.push(wrap);
    });
    root.replaceChildren.apply(root, nodes);
    setText($('pools-summary'), total ? up + ' of ' + total + ' upstreams healthy' : '');
  }

  function renderCache(cache) {
    var on = !!cache && typeof cache === 'object';
    $('cache-off').hidden = on;
    $('cache-on').hidden = !on;
    if (!on) return;
    var ratio = Math.max(0, Math.min(1, num(cache.ratio)));
    setNum('cache-ratio', ratio, oneFmt.format(ratio * 100) + '%');
    $('cache-bar').style.width = (ratio * 100).toFixed(1) + '%';
    $('cache-bar-wrap').setAttribute('aria-valuenow', (ratio * 100).toFixed(1));
    setNum('cache-hits', num(cache.hits));
    setNum('cache-misses', num(cache.misses));
  }

  function renderWaf(rules) {
    var on = Array.isArray(rules);
    $('waf-off').hidden = on;
    var root = $('waf-on');
    root.hidden = !on;
    if (!on) return;
    var list = rules.filter(function (r) { return r && typeof r === 'object'; }).slice()
      .sort(function (a, b) { return num(b.blocks) - num(a.blocks); }).slice(0, 10);
    if (!list.length) { root.replaceChildren(el('p', 'empty', 'no requests blocked')); return; }
    var top = Math.max(1, num(list[0].blocks));
    var table = el('table');
    table.appendChild(headRow([['Rule'], ['Blocks', 'num c-blocks']]));
    var tbody = el('tbody');
    list.forEach(function (r) {
      var tr = el('tr');
      tr.setAttribute('data-testid', 'waf-row');
      tr.appendChild(td(str(r.rule), 'label'));
      var c = el('td', 'num');
      var bar = el('span', 'mini');
      bar.style.width = Math.round((48 * num(r.blocks)) / top) + 'px';
      bar.setAttribute('aria-hidden', 'true');
      c.appendChild(bar);
      c.appendChild(document.createTextNode(' ' + intFmt.format(num(r.blocks))));
      tr.appendChild(c);
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    root.replaceChildren(table);
  }

  function renderCerts(certs) {
    var root = $('certs');
    certs = arr(certs).filter(function (c) { return c && typeof c === 'object'; });
    if (!certs.length) {
      var p = el('p', 'empty', 'no certificates');
      p.setAttribute('data-testid', 'no-certificates');
      root.replaceChildren(p);
      return;
    }
    certs.sort(function (a, b) { return num(a.daysLeft) - num(b.daysLeft); });
    var table = el('table');
    table.appendChild(headRow([['Names'], ['Issuer', 'c-issuer'], ['Expires', 'c-date'], ['Days left', 'num c-days']]));
    var tbody = el('tbody');
    certs.forEach(function (c) {
      var days = num(c.daysLeft);
      var tr = el('tr');
      tr.setAttribute('data-testid', 'cert-row');
      tr.setAttribute('data-days', String(days));
      tr.appendChild(td(arr(c.names).map(str).join(', '), 'label'));
      tr.appendChild(td(str(c.issuer)));
      var d = new Date(str(c.notAfter));
      var exp = td(isNaN(d.getTime()) ? str(c.notAfter) : d.toISOString().slice(0, 10));
      exp.style.whiteSpace = 'nowrap';
      tr.appendChild(exp);
      var cell = el('td', 'num');
      var cls = days < 3 ? 'days-crit' : days < 14 ? 'days-warn' : 'days-ok';
      cell.appendChild(el('span', 'badge ' + cls, days < 0 ? 'expired' : intFmt.format(Math.floor(days))));
      tr.appendChild(cell);
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    root.replaceChildren(table);
  }

  // ---- snapshot -----------------------------------------------------------------------------
  function render(s) {
    var now = num(s.now) || Date.now();
    var nowSec = Math.floor(now / 1000);
    var secs = arr(s.seconds).filter(function (x) { return x && typeof x === 'object'; });
    var end = secs.length ? num(secs[secs.length - 1].t) : nowSec;
    // The newest finished second (the current one may still be filling).
    var cur = null;
    for (var i = secs.length - 1; i >= 0; i--) if (num(secs[i].t) < nowSec) { cur = secs[i]; break; }
    if (!cur && secs.length) cur = secs[secs.length - 1];
    cur = cur || {};

    var t = s.totals || {};
    var req = num(t.requests), err = num(t.errors);
    setNum('total-requests', req);
    setNum('total-errors', err);
    setText($('error-share'), req ? pct(err / req) + ' of requests' : 'no requests yet');
    setNum('open-connections', num(t.openConnections));
    setNum('reloads-ok', num(t.reloadsOk));
    setNum('reloads-failed', num(t.reloadsFailed));
    $('reloads-failed').classList.toggle('bad', num(t.reloadsFailed) > 0);
    setNum('rps', num(cur.requests));
    setNum('eps', num(cur.errors));
    var has = num(cur.requests) > 0;
    ['p50', 'p90', 'p99'].forEach(function (k) { setNum(k, num(cur[k]), has ? ms(num(cur[k])) : '—'); });
    setNum('p99-kpi', num(cur.p99), has ? ms(num(cur.p99)) : '—');
    var reqs = series(secs, end, 'requests');
    var win = reqs.reduce(function (a, b) { return a + b; }, 0);
    setText($('rps-avg'), 'avg ' + oneFmt.format(win / WINDOW) + '/s over 60 s');
    setText($('rps-now'), intFmt.format(num(cur.requests)));
    setNum('rps-peak', Math.max.apply(null, reqs));
    setNum('err-window', series(secs, end, 'errors').reduce(function (a, b) { return a + b; }, 0));

    drawAll(secs, end);
    renderPools(arr(s.pools), now);
    renderCache(s.cache);
    renderWaf(s.wafTopRules);
    renderCerts(s.certificates);
    var d = new Date(now);
    setText($('updated'), 'updated ' + d.toLocaleTimeString('en-GB'));
    $('updated').setAttribute('datetime', d.toISOString());
  }
  function drawAll(secs, end) {
    var busy = series(secs, end, 'requests');
    drawChart('chart-rps', [{ values: series(secs, end, 'requests'), color: '#2563eb', fill: true }], 'requests/s', 'Requests per second');
    drawChart('chart-errors', [{ values: series(secs, end, 'errors'), color: '#dc2626', bars: true }], 'errors/s', 'Errors per second');
    drawChart('chart-latency', [
      { values: series(secs, end, 'p50'), color: '#0891b2', mask: busy },
      { values: series(secs, end, 'p90'), color: '#d97706', mask: busy },
      { values: series(secs, end, 'p99'), color: '#7c3aed', width: 2.25, mask: busy }
    ], 'ms', 'Latency p50, p90 and p99 in milliseconds');
  }
  window.addEventListener('resize', function () {
    if (drawQueued || !last) return;
    drawQueued = true;
    requestAnimationFrame(function () {
      drawQueued = false;
      var secs = arr(last.seconds);
      var end = secs.length ? num(secs[secs.length - 1].t) : Math.floor(num(last.now) / 1000);
      drawAll(secs, end);
    });
  });
  window.addEventListener('pagehide', function () { if (es) es.close(); });
  window.addEventListener('pageshow', function (e) { if (e.persisted) connect(); });

  connect();
})();
`;

const BODY = String.raw`
<header class="top">
  <h1 class="brand">
    <svg class="logo" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect x="2" y="3" width="20" height="18" rx="4" fill="#2563eb"/>
      <path d="M6 12h5m0 0-2.5-2.5M11 12l-2.5 2.5M13 8.5h5M13 12h5M13 15.5h5" stroke="#fff" stroke-width="1.8" fill="none" stroke-linecap="round" stroke-linejoin="round"/>
    </svg>
    proxykit <span class="sub">live dashboard</span>
  </h1>
  <span class="spacer"></span>
  <time class="updated" id="updated"></time>
  <span class="conn" id="conn" data-testid="connection" data-state="connecting" role="status" aria-live="polite">
    <span class="dot" aria-hidden="true"></span><span id="conn-text">connecting</span>
  </span>
</header>
<main>
  <ul class="kpis" aria-label="Totals">
    <li class="kpi"><div class="label">Requests / s</div><div class="value"><span id="rps" data-testid="rps" data-value="0">0</span></div><div class="note" id="rps-avg">&nbsp;</div></li>
    <li class="kpi"><div class="label">Total requests</div><div class="value"><span id="total-requests" data-testid="total-requests" data-value="0">0</span></div><div class="note">since start</div></li>
    <li class="kpi"><div class="label">Errors</div><div class="value"><span id="total-errors" data-testid="total-errors" data-value="0">0</span></div><div class="note" id="error-share">&nbsp;</div></li>
    <li class="kpi"><div class="label">Latency p99</div><div class="value"><span id="p99-kpi" data-testid="p99-kpi" data-value="0">—</span><span class="unit">ms</span></div><div class="note">last second</div></li>
    <li class="kpi"><div class="label">Connections</div><div class="value"><span id="open-connections" data-testid="open-connections" data-value="0">0</span></div><div class="note">open now</div></li>
    <li class="kpi"><div class="label">Reloads</div><div class="value"><span id="reloads-ok" data-testid="reloads-ok" data-value="0">0</span><span class="unit">ok</span> · <span id="reloads-failed" data-testid="reloads-failed" data-value="0">0</span><span class="unit">failed</span></div><div class="note">config reloads</div></li>
  </ul>

  <div class="grid">
    <section class="card s4" aria-labelledby="h-rps">
      <h2 id="h-rps">Requests per second<span class="aside">last 60 s</span></h2>
      <div class="sub-line">now <b id="rps-now">0</b>/s · peak <b id="rps-peak" data-testid="rps-peak" data-value="0">0</b>/s</div>
      <svg class="chart" id="chart-rps" role="img" aria-label="Requests per second over the last 60 seconds"></svg>
    </section>
    <section class="card s4" aria-labelledby="h-err">
      <h2 id="h-err">Errors per second<span class="aside">status ≥ 500, last 60 s</span></h2>
      <div class="sub-line">now <b id="eps" data-testid="eps" data-value="0">0</b>/s · in window <b id="err-window" data-testid="err-window" data-value="0">0</b></div>
      <svg class="chart" id="chart-errors" role="img" aria-label="Errors per second over the last 60 seconds"></svg>
    </section>
    <section class="card s4 m12" aria-labelledby="h-lat">
      <h2 id="h-lat">Latency<span class="aside">ms, last 60 s</span></h2>
      <div class="sub-line legend">
        <span><span class="swatch sw-p50" aria-hidden="true"></span>p50 <b id="p50" data-testid="p50" data-value="0">—</b></span>
        <span><span class="swatch sw-p90" aria-hidden="true"></span>p90 <b id="p90" data-testid="p90" data-value="0">—</b></span>
        <span><span class="swatch sw-p99" aria-hidden="true"></span>p99 <b id="p99" data-testid="p99" data-value="0">—</b></span>
      </div>
      <svg class="chart" id="chart-latency" role="img" aria-label="Latency percentiles over the last 60 seconds"></svg>
    </section>

    <section class="card s8" aria-labelledby="h-pools">
      <h2 id="h-pools">Upstream health<span class="aside" id="pools-summary"></span></h2>
      <div id="pools" data-testid="pools"><p class="empty">waiting for data…</p></div>
    </section>
    <section class="card s4" aria-labelledby="h-cache">
      <h2 id="h-cache">Cache hit ratio</h2>
      <p class="empty" id="cache-off" data-testid="cache-disabled">caching not enabled</p>
      <div id="cache-on" hidden>
        <div class="big"><span id="cache-ratio" data-testid="cache-ratio" data-value="0">0%</span></div>
        <div class="bar" id="cache-bar-wrap" role="meter" aria-label="Cache hit ratio" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span id="cache-bar"></span></div>
        <div class="row"><span>hits <b id="cache-hits" data-testid="cache-hits" data-value="0">0</b></span><span>misses <b id="cache-misses" data-testid="cache-misses" data-value="0">0</b></span></div>
      </div>
    </section>

    <section class="card s6" aria-labelledby="h-waf">
      <h2 id="h-waf">Top blocked WAF rules</h2>
      <p class="empty" id="waf-off" data-testid="waf-disabled">WAF not enabled</p>
      <div class="table-wrap" id="waf-on" data-testid="waf" hidden></div>
    </section>
    <section class="card s6 m12" aria-labelledby="h-certs">
      <h2 id="h-certs">Certificates</h2>
      <div class="table-wrap" id="certs" data-testid="certificates"><p class="empty">no certificates</p></div>
    </section>
  </div>
  <noscript><p class="empty">The dashboard needs JavaScript.</p></noscript>
</main>
`;

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64');
}

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>proxykit</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

const CSP = [
  "default-src 'none'",
  `script-src 'sha256-${sha256(SCRIPT)}'`,
  `style-src 'sha256-${sha256(CSS)}'`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The dashboard page (the same string every call). Serve as `text/html; charset=utf-8`. */
export function dashboardHtml(): string {
  return HTML;
}

/**
 * A Content-Security-Policy for the page: only its own inline script and style (by hash), and
 * `connect-src 'self'` for the event stream. Send it with the page, with `X-Content-Type-Options:
 * nosniff` and `Cache-Control: no-store`.
 */
export function dashboardCsp(): string {
  return CSP;
}
