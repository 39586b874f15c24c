// Ops dashboard: polls /api/ops/stats every 5 s with the admin token from
// sessionStorage (sent as X-Admin-Token, never in a URL) and draws plain SVG charts.
const KEY = 'profdiff-admin-token';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

const secs = (s) => (s == null ? '–' : `${(s * 1000).toFixed(1)} ms`);

function chart(node, rows, series) {
  const w = 600, h = 150, pad = 4;
  const max = Math.max(1, ...rows.flatMap((r) => series.map((s) => r[s] || 0)));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  series.forEach((s, i) => {
    const pts = rows.map((r, x) => {
      const px = pad + (x * (w - 2 * pad)) / Math.max(1, rows.length - 1);
      const py = h - pad - ((r[s] || 0) * (h - 2 * pad)) / max;
      return `${px.toFixed(1)},${py.toFixed(1)}`;
    });
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('class', `l${i}`);
    svg.appendChild(line);
  });
  const legend = el('div', undefined, 'legend');
  series.forEach((s, i) => legend.appendChild(el('span', `${s} (peak ${max})`, `k${i}`)));
  node.replaceChildren(svg, legend);
}

function card(label, value) {
  const c = el('div', undefined, 'card');
  c.append(el('span', label), el('b', value));
  return c;
}

function table(node, head, rows) {
  const tr = el('tr');
  head.forEach((h) => tr.appendChild(el('th', h)));
  const out = [tr];
  rows.forEach((r) => {
    const row = el('tr');
    r.forEach((v) => row.appendChild(el('td', v)));
    out.push(row);
  });
  node.replaceChildren(...out);
}

/** What a worker runs now: the oldest of its current jobs, and how many more. */
function current(w) {
  const list = w.current_jobs || [];
  if (!list.length) return 'idle';
  const j = list[0];
  const more = list.length > 1 ? ` (+${list.length - 1} more)` : '';
  return `${j.kind} ${j.job_id} since ${new Date(j.since * 1000).toLocaleTimeString()}${more}`;
}

function render(s) {
  const host = s.host;
  const mem = s.redis_memory || {};
  $('cards').replaceChildren(
    card('active sessions', s.active_sessions),
    card('uploads on disk', `${bytes(s.upload_bytes)} (${s.upload_files} files)`),
    card('Redis memory', bytes(mem.used_memory || 0)),
    card('host CPU', `${host.cpu_usage_percent.toFixed(0)} %`),
    card('host memory', `${bytes(host.memory_used_bytes)} / ${bytes(host.memory_total_bytes)}`),
    card('disk free', `${bytes(host.disk_available_bytes)} / ${bytes(host.disk_total_bytes)}`),
    card('this process', `${host.process} · ${bytes(host.process_rss_bytes)}`),
  );
  chart($('chart-jobs'), s.per_minute, ['parse_started', 'parse_done', 'compare_started', 'compare_done']);
  chart($('chart-fail'), s.per_minute, ['parse_failed', 'compare_failed', 'parse_retries', 'compare_retries']);
  table($('kinds'), ['kind', 'queued', 'running', 'started', 'done', 'failed', 'dead: bad input', 'dead: retries exhausted', 'retries', 'p50', 'p95'],
    Object.entries(s.jobs).map(([k, v]) => [k, v.queued, v.running, v.started, v.done, v.failed, v.dead_bad_input, v.dead_retries_exhausted, v.retries, secs(v.p50_secs), secs(v.p95_secs)]));
  table($('workers'), ['worker', 'kind', 'host', 'last heartbeat', 'alive', 'current job'],
    s.workers.map((w) => [w.name, w.kind, w.host, new Date(w.last_heartbeat * 1000).toLocaleTimeString(), w.alive ? 'yes' : 'no', current(w)]));
  table($('failures'), ['when', 'kind', 'job', 'target', 'reason', 'attempts', 'worker', 'error'],
    s.recent_failures.map((f) => [new Date(f.at * 1000).toLocaleTimeString(), f.kind, f.job_id, f.target || '', f.reason || '', f.attempts ?? '', f.worker || '', f.error]));
  $('janitor').textContent = s.janitor ? JSON.stringify(s.janitor, null, 2) : 'not run yet';
  $('status').textContent = `updated ${new Date(s.at * 1000).toLocaleTimeString()}`;
}

let timer = null;

async function poll() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return showLogin();
  try {
    const res = await fetch('/api/ops/stats', { headers: { 'X-Admin-Token': token }, cache: 'no-store' });
    if (res.status === 401) { sessionStorage.removeItem(KEY); return showLogin('wrong token'); }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    $('login').hidden = true;
    $('dash').hidden = false;
    render(await res.json());
  } catch (e) {
    $('status').textContent = `update failed: ${e.message}; retrying`;
  }
  timer = setTimeout(poll, 5000);
}

function showLogin(msg) {
  clearTimeout(timer);
  $('dash').hidden = true;
  $('login').hidden = false;
  $('status').textContent = msg || '';
  $('token').focus();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $('token').value);
  $('token').value = '';
  poll();
});
$('forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin(); });
poll();
