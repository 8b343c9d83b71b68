import { createHash } from 'node:crypto';

// The stylesheet and the one script are kept as strings in this module (not files beside it), so
// the CLI bundle, `dist/` and `src/` through tsx serve the same bytes without finding a path.

const CSS = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1f1e24; --muted: #626168; --border: #dcdcde;
  --link: #1f75cb; --panel: #f6f6f7; --ok: #108548; --bad: #dd2b0e; --run: #1f75cb; --warn: #ab6100;
  --log-bg: #1f1e24; --log-fg: #ececef; --focus: #1f75cb; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #18171d; --fg: #ececef; --muted: #a4a3a8; --border: #3a383f; --link: #63a6e9;
    --panel: #232128; --ok: #2da160; --bad: #ec5941; --run: #63a6e9; --warn: #d99530;
    --log-bg: #0b0a0f; --focus: #63a6e9; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--link); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip-link { position: absolute; left: -999px; }
.skip-link:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 2; }
.top-bar { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center;
  gap: 8px; padding: 8px 16px; border-bottom: 1px solid var(--border); background: var(--panel); }
.top-bar nav { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
.sign-out { display: flex; gap: 8px; align-items: center; margin: 0; }
main { padding: 16px; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; word-break: break-word; }
h2 { font-size: 1.15rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--border); vertical-align: top; }
.table-scroll { overflow-x: auto; margin-bottom: 16px; }
button, input, select, textarea { font: inherit; color: inherit; }
button, .button { background: var(--panel); border: 1px solid var(--border); border-radius: 4px;
  padding: 4px 12px; cursor: pointer; text-decoration: none; color: var(--fg); display: inline-block; }
button.danger { border-color: var(--bad); color: var(--bad); }
input, textarea, select { background: var(--bg); border: 1px solid var(--border); border-radius: 4px;
  padding: 4px 8px; max-width: 100%; }
label { display: block; margin: 8px 0 2px; font-weight: 600; }
.form-card { max-width: 420px; }
.form-card input:not([type=checkbox]), .form-card textarea, .form-card select { width: 100%; }
.preview-token { scroll-margin-top: 8px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.actions form { margin: 0; }
.error-message, .flash-alert { color: var(--bad); }
.flash-notice { color: var(--ok); }
.muted { color: var(--muted); }
.status { white-space: nowrap; font-weight: 600; }
.status-success { color: var(--ok); } .status-failed { color: var(--bad); }
.status-running, .status-pending { color: var(--run); } .status-manual, .status-canceled { color: var(--warn); }
.status-skipped, .status-created { color: var(--muted); }
.stages { display: flex; flex-wrap: wrap; gap: 16px; }
.stage { min-width: 220px; flex: 1 1 220px; border: 1px solid var(--border); border-radius: 6px; padding: 8px; }
.stage h2 { margin: 0 0 8px; text-transform: capitalize; }
.stage ul { list-style: none; margin: 0; padding: 0; }
.stage li { padding: 4px 0; border-top: 1px solid var(--border); }
.needs { font-size: 0.85em; color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; word-break: break-word; }
.job-log { background: var(--log-bg); color: var(--log-fg); font: 13px/1.45 ui-monospace, monospace;
  padding: 8px 12px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; word-break: break-all;
  max-height: 75vh; overflow-y: auto; }
.log-line { min-height: 1.45em; }
.log-line.timed { padding-left: 9ch; text-indent: -9ch; }
.log-time { display: inline-block; width: 9ch; text-indent: 0; color: #a4a3a8; user-select: none; }
.job-log.hide-times .log-time { display: none; }
.job-log.hide-times .log-line.timed { padding-left: 0; text-indent: 0; }
.log-bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 0 0 8px; color: var(--muted); }
.log-bar[hidden] { display: none; }
.log-section > summary { cursor: pointer; display: flex; list-style: none; }
.log-section > summary::-webkit-details-marker { display: none; }
.log-section > summary.timed { padding-left: 0; text-indent: 0; }
.section-marker::before { content: '\\25B8'; display: inline-block; width: 2ch; }
.log-section[open] > summary .section-marker::before { content: '\\25BE'; }
.section-title { flex: 1 1 auto; min-width: 0; }
.section-duration { flex: none; margin-left: 1ch; color: #a4a3a8; }
.job-log .log-time { flex: none; }
.term-bold { font-weight: 700; } .term-italic { font-style: italic; } .term-underline { text-decoration: underline; }
.term-fg-black { color: #4b4b4b; } .term-fg-red { color: #f55; } .term-fg-green { color: #5c5; }
.term-fg-yellow { color: #dd5; } .term-fg-blue { color: #6af; } .term-fg-magenta { color: #d6d; }
.term-fg-cyan { color: #5dd; } .term-fg-white { color: #ddd; }
.term-fg-l-black { color: #888; } .term-fg-l-red { color: #f77; } .term-fg-l-green { color: #7f7; }
.term-fg-l-yellow { color: #ff7; } .term-fg-l-blue { color: #8bf; } .term-fg-l-magenta { color: #f8f; }
.term-fg-l-cyan { color: #7ff; } .term-fg-l-white { color: #fff; }
.term-bg-black { background: #000; } .term-bg-red { background: #a00; } .term-bg-green { background: #0a0; }
.term-bg-yellow { background: #a50; } .term-bg-blue { background: #00a; } .term-bg-magenta { background: #a0a; }
.term-bg-cyan { background: #0aa; } .term-bg-white { background: #aaa; color: #000; }
.claims { font: 13px/1.4 ui-monospace, monospace; }
.verdict-ok { color: var(--ok); font-weight: 700; } .verdict-bad { color: var(--bad); font-weight: 700; }
.pagination { display: flex; gap: 16px; margin: 12px 0; }
@media (max-width: 600px) { main { padding: 8px; } th, td { padding: 4px; } .hide-narrow { display: none; }
  .table-scroll td.claims { overflow-wrap: anywhere; } .role-checks td { min-width: 6em; }
  .role-checks td:last-child { min-width: 14em; }
  table.keys td, table.audit td, table.job-tokens td { white-space: nowrap; } table.keys .actions { flex-wrap: nowrap; align-items: end; } }
`;

const JS = `'use strict';
// Tessera web UI: live job logs (server-sent events) and confirmations. No inline script exists.
(function () {
  function spanNodes(spans) {
    var out = [];
    for (var i = 0; i < spans.length; i++) {
      var s = spans[i];
      if (!s.classes) { out.push(document.createTextNode(s.text)); continue; }
      var el = document.createElement('span');
      el.className = s.classes;
      el.textContent = s.text;
      out.push(el);
    }
    return out;
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  // A line's time as the page renders it (log-view.tsx): HH:MM:SS in UTC, the whole time in datetime.
  function timed(el, at) {
    if (!at) return;
    var t = document.createElement('time');
    t.className = 'log-time';
    t.dateTime = at;
    t.title = at;
    t.textContent = at.slice(11, 19);
    el.classList.add('timed');
    el.appendChild(t);
    var bar = document.getElementById('log-bar');
    if (bar) bar.hidden = false;
  }
  function followLog(log) {
    var stack = Array.prototype.slice.call(log.querySelectorAll('details[data-unclosed]'));
    function parent() { return stack.length ? stack[stack.length - 1] : log; }
    function atBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 40; }
    function lastLine() {
      var p = parent();
      var last = p.lastElementChild;
      return last && last.tagName === 'DIV' && last.classList.contains('log-line') ? last : null;
    }
    function append(lines, replace, continues) {
      var follow = atBottom();
      var start = 0;
      // The rest of a line the runner cut (a '+' line): the whole line again in place of the last
      // one, or, for a line the page came with, its rest appended to it.
      if ((replace || continues) && lines.length && lines[0].kind === 'line' && lastLine()) {
        var prev = lastLine();
        if (replace) {
          while (prev.firstChild) prev.removeChild(prev.firstChild);
          prev.classList.remove('timed');
          timed(prev, lines[0].at);
        }
        spanNodes(lines[0].spans).forEach(function (n) { prev.appendChild(n); });
        start = 1;
      }
      for (var i = start; i < lines.length; i++) {
        var line = lines[i];
        if (line.kind === 'section_start') {
          var d = document.createElement('details');
          d.className = 'log-section';
          d.dataset.section = line.name;
          d.dataset.start = String(line.time);
          d.open = !line.collapsed;
          var sum = document.createElement('summary');
          sum.className = 'log-line';
          timed(sum, line.at);
          var marker = document.createElement('span');
          marker.className = 'section-marker';
          marker.setAttribute('aria-hidden', 'true');
          sum.appendChild(marker);
          var title = document.createElement('span');
          title.className = 'section-title';
          spanNodes(line.spans).forEach(function (n) { title.appendChild(n); });
          sum.appendChild(title);
          var dur = document.createElement('span');
          dur.className = 'section-duration';
          sum.appendChild(dur);
          d.appendChild(sum);
          parent().appendChild(d);
          stack.push(d);
        } else if (line.kind === 'section_end') {
          for (var j = stack.length - 1; j >= 0; j--) {
            if (stack[j].dataset.section === line.name) {
              var secs = Math.max(0, line.time - Number(stack[j].dataset.start));
              var durEl = stack[j].querySelector('.section-duration');
              if (durEl) durEl.textContent = pad(Math.floor(secs / 60)) + ':' + pad(secs % 60);
              stack.length = j;
              break;
            }
          }
        } else {
          var div = document.createElement('div');
          div.className = 'log-line';
          timed(div, line.at);
          spanNodes(line.spans).forEach(function (n) { div.appendChild(n); });
          parent().appendChild(div);
        }
      }
      if (follow) log.scrollTop = log.scrollHeight;
    }
    var url = log.dataset.streamUrl + '?offset=' + encodeURIComponent(log.dataset.offset || '0');
    var source = new EventSource(url);
    source.addEventListener('lines', function (event) {
      var data = JSON.parse(event.data);
      log.dataset.offset = String(data.offset);
      append(data.lines, data.replace, data.continues);
    });
    source.addEventListener('status', function (event) {
      var data = JSON.parse(event.data);
      var badge = document.getElementById('job-status');
      if (badge && badge.dataset.status !== data.status) {
        badge.dataset.status = data.status;
        badge.className = 'status status-' + data.status;
        badge.lastChild.textContent = ' ' + data.status;
      }
    });
    source.addEventListener('end', function () { source.close(); });
  }
  document.addEventListener('DOMContentLoaded', function () {
    var log = document.getElementById('job-log');
    if (log && log.dataset.streamUrl) followLog(log);
    if (log) log.scrollTop = log.scrollHeight;
    var toggle = document.getElementById('log-time-toggle');
    if (log && toggle) {
      toggle.addEventListener('click', function () {
        var hidden = log.classList.toggle('hide-times');
        toggle.setAttribute('aria-pressed', hidden ? 'true' : 'false');
      });
    }
    document.querySelectorAll('form[data-confirm]').forEach(function (form) {
      form.addEventListener('submit', function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  });
})();
`;

function versioned(name: string, extension: string, body: string): string {
  return `/-/web/assets/${name}-${createHash('sha256').update(body).digest('hex').slice(0, 12)}.${extension}`;
}

/** The stylesheet's and script's URLs: their content hash is in the name, so they are cached for good. */
export const ASSET_PATHS = {
  css: versioned('tessera', 'css', CSS),
  js: versioned('tessera', 'js', JS),
} as const;

/** Every asset by URL, with its content type. */
export const ASSETS: ReadonlyMap<string, { type: string; body: string }> = new Map([
  [ASSET_PATHS.css, { type: 'text/css; charset=utf-8', body: CSS }],
  [ASSET_PATHS.js, { type: 'text/javascript; charset=utf-8', body: JS }],
]);
