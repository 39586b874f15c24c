// Ops dashboard: polls /api/ops/stats every 5 s with the admin token from
// sessionStorage (sent as X-Admin-Token, never in a URL) and draws plain SVG charts.

/** @typedef {{queued: number, running: number, started: number, done: number, failed: number, dead_bad_input: number, dead_retries_exhausted: number, retries: number, p50_secs: number|null, p95_secs: number|null, duration_sum_secs: number}} KindStats */
/** @typedef {{kind: string, job_id: string, since: number}} CurrentJob */
/** @typedef {{name: string, kind: string, host: string, last_heartbeat: number, alive: boolean, current_job: CurrentJob|null, current_jobs?: CurrentJob[]}} Worker */
/** @typedef {{kind: string, job_id: string, target?: string|null, error: string, reason?: string|null, attempts?: number|null, worker?: string|null, at: number, secs?: number|null}} Failure */
/** @typedef {{host: string, cpu_usage_percent: number, memory_used_bytes: number, memory_total_bytes: number, disk_available_bytes: number, disk_total_bytes: number, process: string, process_rss_bytes: number}} HostStats */
/** @typedef {{minute: number} & Record<string, number>} MinuteBucket */
/**
 * What GET /api/ops/stats answers (src/web/ops.rs).
 * @typedef {{at: number, jobs: Record<string, KindStats>, per_minute: MinuteBucket[], recent_failures: Failure[], workers: Worker[], active_sessions: number, upload_bytes: number, upload_files: number, redis_memory: Record<string, number>, host: HostStats, janitor: Record<string, string>|null}} OpsStats
 */

const KEY = 'profdiff-admin-token';
const SVG = 'http://www.w3.org/2000/svg';
/** Job kinds in display order (the server's `jobs` object has no fixed order). */
const KINDS = ['parse', 'compare'];
/** Milliseconds between two polls. */
const PERIOD_MS = 5000;

/** @param {string} id @returns {HTMLElement} */
function $(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing from ops.html`);
  return e;
}

/**
 * @param {string} tag
 * @param {string|number} [text]
 * @param {string} [cls]
 * @returns {HTMLElement}
 */
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

/** A byte count in binary units. @param {number} n @returns {string} */
export function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

/** A duration in seconds shown in ms, or a dash. @param {number|null|undefined} s @returns {string} */
export const secs = (s) => (s == null ? '–' : `${(s * 1000).toFixed(1)} ms`);

/** A unix time (seconds) as the browser's local time of day. @param {number} t @returns {string} */
export const clock = (t) => new Date(t * 1000).toLocaleTimeString();

/** A per-minute field name in words: `parse_done` → `parse done`. @param {string} s */
export const seriesLabel = (s) => s.replace(/_/g, ' ');

/**
 * One line per series over the buckets (oldest first), scaled to the largest value of
 * all series; the legend gives each series' value in the current (last) minute and its
 * total over the hour (for a gauge, its value now and its peak), which is also the
 * chart's accessible name.
 * @param {HTMLElement} node
 * @param {MinuteBucket[]} rows
 * @param {string[]} series
 * @param {boolean} [gauge] the series are levels at each minute's end, not counts
 */
function chart(node, rows, series, gauge = false) {
  const w = 600, h = 150, pad = 4;
  const max = Math.max(1, ...rows.flatMap((r) => series.map((s) => r[s] || 0)));
  const last = rows[rows.length - 1];
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  if (last) svg.setAttribute('data-minute', String(last.minute));
  /** @type {string[]} */
  const said = [];
  const legend = el('div', undefined, 'legend');
  series.forEach((s, i) => {
    const pts = rows.map((r, x) => {
      const px = pad + (x * (w - 2 * pad)) / Math.max(1, rows.length - 1);
      const py = h - pad - ((r[s] || 0) * (h - 2 * pad)) / max;
      return `${px.toFixed(1)},${py.toFixed(1)}`;
    });
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('class', `l${i}`);
    line.setAttribute('data-k', s);
    svg.appendChild(line);
    const now = last ? last[s] || 0 : 0;
    const hour = rows.reduce((a, r) => a + (r[s] || 0), 0);
    const peak = rows.reduce((a, r) => Math.max(a, r[s] || 0), 0);
    const text = gauge ? `${seriesLabel(s)}: ${now} now, at most ${peak} in the hour` : `${seriesLabel(s)}: ${now} this minute, ${hour} in the hour`;
    said.push(text);
    const item = el('span', text, `k${i}`);
    item.setAttribute('data-k', s);
    legend.appendChild(item);
  });
  const over = gauge ? 'At the end of each minute over the last hour' : 'Per minute over the last hour';
  svg.setAttribute('aria-label', `${over} (scale 0 to ${max}). ${said.join('; ')}.`);
  const scale = el('span', gauge ? `scale: 0–${max}` : `scale: 0–${max} per minute`, 'hint');
  legend.appendChild(scale);
  node.replaceChildren(svg, legend);
}

/**
 * @param {string} key field of the stats it shows (data-k, for tests and styling)
 * @param {string} label
 * @param {string|number} value
 * @param {number} [raw] the exact figure when `value` rounds it
 */
function card(key, label, value, raw) {
  const c = el('div', undefined, 'card');
  c.setAttribute('data-k', key);
  if (raw !== undefined) c.setAttribute('data-v', String(raw));
  c.append(el('span', label), el('b', value));
  return c;
}

/**
 * @param {HTMLElement} node a <table>
 * @param {string[]} head
 * @param {Array<Array<string|number>>} rows
 */
function table(node, head, rows) {
  const thead = el('thead');
  const tr = el('tr');
  head.forEach((h) => {
    const th = el('th', h);
    th.setAttribute('scope', 'col');
    tr.appendChild(th);
  });
  thead.appendChild(tr);
  const tbody = el('tbody');
  rows.forEach((r) => {
    const row = el('tr');
    r.forEach((v) => row.appendChild(el('td', v)));
    tbody.appendChild(row);
  });
  node.replaceChildren(thead, tbody);
}

/** What a worker runs now: the oldest of its current jobs, and how many more. @param {Worker} w */
export function current(w) {
  const list = w.current_jobs || [];
  if (!list.length) return 'idle';
  const j = list[0];
  const more = list.length > 1 ? ` (+${list.length - 1} more)` : '';
  return `${j.kind} ${j.job_id} since ${clock(j.since)}${more}`;
}

/** Kinds in display order: the known ones first, then any others. @param {OpsStats} s */
export function kinds(s) {
  const names = Object.keys(s.jobs);
  return [...KINDS.filter((k) => names.includes(k)), ...names.filter((k) => !KINDS.includes(k)).sort()];
}

/** Workers by kind, then name (the server orders them by heartbeat, which moves). @param {OpsStats} s */
export const workers = (s) => [...s.workers].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));

/** The janitor's last run in words. @param {Record<string, string>|null} j */
export function janitor(j) {
  if (!j) return 'not run yet';
  const n = (/** @type {string} */ k) => Number(j[k] ?? 0);
  return `last run ${clock(n('at'))}: removed ${n('sessions_removed')} sessions, ${n('keys_removed')} keys, ${n('dirs_removed')} folders; pruned ${n('tasks_pruned')} finished tasks`;
}

/** @param {OpsStats} s */
function render(s) {
  const host = s.host;
  const mem = s.redis_memory || {};
  $('cards').replaceChildren(
    card('active_sessions', 'active sessions', s.active_sessions, s.active_sessions),
    card('upload_bytes', 'uploads on disk', `${bytes(s.upload_bytes)} (${s.upload_files} files)`, s.upload_bytes),
    card('redis_memory', 'Redis memory', bytes(mem.used_memory || 0), mem.used_memory || 0),
    card('cpu', 'host CPU', `${host.cpu_usage_percent.toFixed(0)} %`),
    card('memory', 'host memory', `${bytes(host.memory_used_bytes)} / ${bytes(host.memory_total_bytes)}`),
    card('disk', 'disk free', `${bytes(host.disk_available_bytes)} / ${bytes(host.disk_total_bytes)}`),
    card('process', 'this process', `${host.process} · ${bytes(host.process_rss_bytes)}`),
  );
  chart($('chart-jobs'), s.per_minute, ['parse_started', 'parse_done', 'compare_started', 'compare_done']);
  chart($('chart-fail'), s.per_minute, ['parse_failed', 'compare_failed', 'parse_retries', 'compare_retries']);
  chart($('chart-running'), s.per_minute, ['parse_running', 'compare_running'], true);
  table($('kinds'), ['kind', 'queued', 'running', 'started', 'done', 'failed', 'dead: bad input', 'dead: retries exhausted', 'retries', 'p50', 'p95'],
    kinds(s).map((k) => {
      const v = s.jobs[k];
      return [k, v.queued, v.running, v.started, v.done, v.failed, v.dead_bad_input, v.dead_retries_exhausted, v.retries, secs(v.p50_secs), secs(v.p95_secs)];
    }));
  table($('workers'), ['worker', 'kind', 'host', 'last heartbeat', 'alive', 'current job'],
    workers(s).map((w) => [w.name, w.kind, w.host, clock(w.last_heartbeat), w.alive ? 'yes' : 'no', current(w)]));
  table($('failures'), ['when', 'kind', 'job', 'target', 'reason', 'attempts', 'worker', 'error'],
    s.recent_failures.map((f) => [clock(f.at), f.kind, f.job_id, f.target || '', f.reason || '', f.attempts ?? '', f.worker || '', f.error]));
  $('janitor').textContent = janitor(s.janitor);
  const status = $('status');
  status.textContent = `updated ${clock(s.at)}`;
  status.setAttribute('data-at', String(s.at));
}

/** @type {ReturnType<typeof setTimeout>|undefined} */
let timer;
/** Bumped by every poll and by the login form: only the latest poll schedules the next. */
let generation = 0;

async function poll() {
  clearTimeout(timer);
  const mine = ++generation;
  const token = sessionStorage.getItem(KEY);
  if (!token) return showLogin();
  try {
    const res = await fetch('/api/ops/stats', { headers: { 'X-Admin-Token': token }, cache: 'no-store' });
    if (mine !== generation) return;
    if (res.status === 401) {
      sessionStorage.removeItem(KEY);
      return showLogin('That token was refused. Enter the admin token again.');
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const stats = /** @type {OpsStats} */ (await res.json());
    if (mine !== generation) return;
    $('login').hidden = true;
    $('forget').hidden = false;
    $('dash').hidden = false;
    render(stats);
  } catch (e) {
    if (mine !== generation) return;
    $('status').textContent = `update failed: ${e instanceof Error ? e.message : String(e)}; retrying`;
  }
  timer = setTimeout(poll, PERIOD_MS);
}

/** @param {string} [msg] why the token is asked for again */
function showLogin(msg) {
  clearTimeout(timer);
  generation++;
  $('dash').hidden = true;
  $('forget').hidden = true;
  $('login').hidden = false;
  $('status').textContent = '';
  $('login-msg').textContent = msg || 'These figures need the admin token (PROFDIFF_ADMIN_TOKEN).';
  $('token').focus();
}

const tokenInput = /** @type {HTMLInputElement} */ ($('token'));
$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, tokenInput.value);
  tokenInput.value = '';
  $('login-msg').textContent = '';
  poll();
});
$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  showLogin();
});
poll();
