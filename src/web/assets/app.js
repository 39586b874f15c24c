// profdiff's browser UI: upload, profiles, comparison table, flame graph, one profile's
// pstats view, batches (batch.js). Views are picked by the hash route (#/, #/compare?…,
// #/profile/ID?…, #/batch/ID) so a URL reopens the same view within the session. Everything heavy (sorting and
// filtering 60,000 comparison rows) happens on the server, a page at a time.

import * as api from './api.js';
import { buildTree, mergeTrees, renderFlame, NODE_CAP } from './flame.js';
import { batchView, dropOnBatch, leaveBatch } from './batch.js';
import {
  h, fmtTime, fmtDelta, fmtSec, fmtInt, fmtSignedInt, fmtPct, fmtBytes, funcLabel, shortLabel, escapeRegex, debounce, fmtIn, acceptDroppedFiles,
} from './util.js';

/** @typedef {import('./api.js').ProfileInfo} ProfileInfo */
/** @typedef {import('./api.js').Row} Row */
/** @typedef {import('./api.js').Graph} Graph */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const banner = /** @type {HTMLElement} */ (document.getElementById('banner'));
const sessionBox = /** @type {HTMLElement} */ (document.getElementById('session'));

const PSTATS_NOTE =
  'pstats records only one level of callers (who called a function, not the whole stack), so paths deeper than one call are inferred: a callee\'s time is split over its callers in proportion to what each pair recorded.';

/** @param {string|null} msg */
function showBanner(msg) {
  banner.hidden = !msg;
  banner.textContent = msg ?? '';
}
api.onBusy(showBanner);

/** Current route: view name + params. */
function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  return { view: parts[0] ?? 'home', id: parts[1] ?? '', params };
}

/**
 * Rewrites the hash without re-rendering (the view already shows this state).
 * @param {string} path
 * @param {Record<string, string|number|boolean|undefined|null>} params
 */
function setHash(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, v === true ? '1' : String(v));
  const s = q.toString();
  history.replaceState(null, '', `#${path}${s ? `?${s}` : ''}`);
}

/** @param {unknown} e */
const errText = (e) => (e instanceof Error ? e.message : String(e));

/** @param {unknown} e */
function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, errText(e));
}

// ---------------------------------------------------------------- session panel

/** Calls overlap (upload done, delete, timer); only the newest may paint, or an older answer shows a stale count. */
let sessionCall = 0;

async function refreshSession() {
  const call = ++sessionCall;
  try {
    const s = await api.sessionInfo();
    if (call !== sessionCall) return;
    const left = Number(s.expires) - Number(s.now);
    sessionBox.replaceChildren(
      h('span', { text: `Session ${s.session_id}` }),
      h('span', { text: `${s.profiles} profile${s.profiles === 1 ? '' : 's'}, ${fmtBytes(s.bytes)}` }),
      h('span', { title: new Date(Number(s.expires) * 1000).toLocaleString(), text: `expires ${fmtIn(left)} if idle` }),
    );
  } catch (e) {
    if (call === sessionCall) sessionBox.textContent = errText(e);
  }
}

// ---------------------------------------------------------------- home: upload + list

/** @typedef {{file: File, li: HTMLElement, bar: HTMLProgressElement, status: HTMLElement, done: boolean}} UploadItem */

/** Upload rows live across re-renders of the home view. */
const uploadList = h('ul', { class: 'uploads', 'aria-label': 'Uploads', id: 'uploads' });
/** @type {ReturnType<typeof setTimeout>|undefined} */
let listTimer;
/** @type {HTMLElement|null} */
let profilesHost = null;

/** @param {UploadItem} item @param {string} state @param {string} text */
function setUploadState(item, state, text) {
  item.li.dataset.state = state;
  item.status.textContent = text;
}

/** @param {string} jobId @param {UploadItem} item */
async function followJob(jobId, item) {
  for (let i = 0; ; i++) {
    let j;
    try {
      j = await api.job(jobId);
    } catch (e) {
      setUploadState(item, 'failed', errText(e));
      return;
    }
    if (j.status === 'done') {
      setUploadState(item, 'done', 'Parsed: ready');
      item.bar.value = 1;
      break;
    }
    if (j.status === 'failed') {
      setUploadState(item, 'failed', `Could not read this file: ${j.error ?? 'unknown error'}`);
      break;
    }
    setUploadState(item, j.status ?? 'queued', j.status === 'running' ? 'Parsing…' : 'Queued for parsing…');
    await new Promise((r) => setTimeout(r, Math.min(1500, 200 + i * 100)));
  }
  item.done = true;
  refreshProfiles();
  refreshSession();
}

/** @param {File} file */
async function uploadOne(file) {
  const bar = /** @type {HTMLProgressElement} */ (h('progress', { max: '1', value: '0', 'aria-label': `Upload progress of ${file.name}` }));
  const status = h('span', { class: 'upload-status', text: 'Uploading…' });
  const li = h('li', { class: 'upload', 'data-name': file.name }, h('span', { class: 'upload-name', text: file.name }), h('span', { class: 'upload-size', text: fmtBytes(file.size) }), bar, status);
  /** @type {UploadItem} */
  const item = { file, li, bar, status, done: false };
  uploadList.prepend(li);
  setUploadState(item, 'uploading', 'Uploading…');
  try {
    const p = await api.retryWhileBusy(
      () =>
        api.upload(file, (f) => {
          bar.value = f;
          status.textContent = `Uploading… ${Math.round(f * 100)} %`;
        }),
      (e) => {
        setUploadState(item, 'waiting', e.message);
        bar.value = 0;
      },
    );
    bar.value = 1;
    setUploadState(item, 'queued', 'Uploaded; queued for parsing…');
    refreshProfiles();
    await followJob(p.job_id, item);
  } catch (e) {
    setUploadState(item, 'failed', errText(e));
    item.done = true;
  }
}

/** @param {Iterable<File>} files */
async function uploadFiles(files) {
  const queue = [...files];
  // A few at a time: each file has its own request, so one refusal (too big, wrong
  // type) never takes the others down.
  const workers = Array.from({ length: Math.min(3, queue.length) }, async () => {
    for (let f = queue.shift(); f; f = queue.shift()) await uploadOne(f);
  });
  await Promise.all(workers);
}

function homeView() {
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'file', id: 'file-input', multiple: true, accept: '.prof,.pstats,.pkl', class: 'visually-hidden' }));
  input.addEventListener('change', () => {
    if (input.files) uploadFiles(input.files);
    input.value = '';
  });
  const drop = h(
    'section',
    { class: 'dropzone', id: 'dropzone', 'aria-labelledby': 'upload-title' },
    h('h1', { id: 'upload-title', text: 'Upload profiles' }),
    h('p', {}, 'Drop ', h('code', { text: '.prof' }), ', ', h('code', { text: '.pstats' }), ' or ', h('code', { text: '.pkl' }), ' files from cProfile, profile or yappi here, or '),
    h('label', { for: 'file-input', class: 'button primary' }, 'Choose files…'),
    input,
    uploadList,
  );
  acceptDroppedFiles(drop, (files) => uploadFiles(files));
  profilesHost = h('section', { 'aria-labelledby': 'profiles-title', class: 'profiles' });
  main.replaceChildren(drop, profilesHost);
  refreshProfiles();
}

/** Same guard as the session panel: a poll in flight must not repaint over a newer list. */
let profilesCall = 0;

async function refreshProfiles() {
  const host = profilesHost;
  if (!host || !host.isConnected) return;
  clearTimeout(listTimer);
  const call = ++profilesCall;
  /** @type {ProfileInfo[]} */
  let list;
  try {
    list = await api.listProfiles();
    if (call !== profilesCall) return;
  } catch (e) {
    if (call !== profilesCall) return;
    host.replaceChildren(h('h2', { id: 'profiles-title', text: 'Your profiles' }), errorBox(e));
    return;
  }
  const ready = list.filter((p) => p.status === 'ready');
  const clear = h('button', {
    type: 'button',
    class: 'button danger',
    id: 'clear-all',
    disabled: list.length === 0,
    onclick: async () => {
      if (!confirm(`Delete all ${list.length} profile${list.length === 1 ? '' : 's'} and the comparisons of this session?`)) return;
      try {
        await api.clearSession();
      } catch (e) {
        host.append(errorBox(e));
      }
      refreshProfiles();
      refreshSession();
    },
    text: 'Clear all…',
  });
  const compare = ready.length >= 2 ? h('a', { class: 'button primary', href: '#/compare', id: 'compare-recent', text: 'Compare the two most recent' }) : null;
  const head = h('div', { class: 'row-head' }, h('h2', { id: 'profiles-title', text: 'Your profiles' }), compare, clear);
  if (list.length === 0) {
    host.replaceChildren(head, h('p', { class: 'muted', text: 'No profiles yet. Uploads are private to this browser session.' }));
    return;
  }
  const rows = list
    .slice()
    .reverse()
    .map((p) =>
      h(
        'tr',
        { 'data-id': p.id, 'data-status': p.status ?? '' },
        h('th', { scope: 'row' }, p.status === 'ready' ? h('a', { href: `#/profile/${p.id}`, text: p.name ?? p.id }) : p.name ?? p.id),
        h('td', { text: [p.format, p.producer].filter(Boolean).join(' · ') || '–' }),
        h('td', { class: 'num', text: fmtBytes(p.size) }),
        h('td', { class: 'num', text: fmtInt(p.functions) }),
        h('td', { class: 'num', text: fmtTime(p.total_time) }),
        h('td', { class: `status status-${p.status}` }, h('span', { text: p.status ?? '?' }), p.error ? h('span', { class: 'error-detail', text: `: ${p.error}` }) : null),
        h(
          'td',
          {},
          h('button', {
            type: 'button',
            class: 'button small',
            'aria-label': `Delete ${p.name}`,
            onclick: async () => {
              try {
                await api.deleteProfile(p.id);
              } catch (e) {
                host.append(errorBox(e));
              }
              refreshProfiles();
              refreshSession();
            },
            text: 'Delete',
          }),
        ),
      ),
    );
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'grid', id: 'profiles-table' },
      h('caption', { class: 'visually-hidden', text: 'Profiles in this session, newest first' }),
      h('thead', {}, h('tr', {}, ...['Name', 'Format / producer', 'Size', 'Functions', 'Total time', 'Status', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, ...rows),
    ),
  );
  host.replaceChildren(head, table);
  if (list.some((p) => p.status === 'queued' || p.status === 'running')) listTimer = setTimeout(refreshProfiles, 1000);
}

// ---------------------------------------------------------------- graph helpers

/** @typedef {{index: Map<string, number>, callers: Map<number, number[]>, callees: Map<number, number[]>}} GraphIndex */
/** @type {WeakMap<Graph, GraphIndex>} */
const indexes = new WeakMap();

/** @param {string} file @param {number} line @param {string} name */
const fkey = (file, line, name) => `${file}\u0000${line}\u0000${name}`;

/** @param {Graph} g @returns {GraphIndex} */
function indexOf(g) {
  let ix = indexes.get(g);
  if (ix) return ix;
  ix = { index: new Map(), callers: new Map(), callees: new Map() };
  g.functions.forEach((f, i) => ix?.index.set(fkey(f[0], f[1], f[2]), i));
  g.edges.forEach((e, j) => {
    const [from, to] = e;
    if (!ix) return;
    if (!ix.callers.has(to)) ix.callers.set(to, []);
    ix.callers.get(to)?.push(j);
    if (!ix.callees.has(from)) ix.callees.set(from, []);
    ix.callees.get(from)?.push(j);
  });
  indexes.set(g, ix);
  return ix;
}

/**
 * One side's callers or callees of a function, by key.
 * @param {Graph|null} g @param {string} key @param {'callers'|'callees'} dir
 * @returns {Map<string, {file: string, line: number, name: string, nc: number, ct: number|null}>}
 */
function neighbours(g, key, dir) {
  const out = new Map();
  if (!g) return out;
  const ix = indexOf(g);
  const i = ix.index.get(key);
  if (i === undefined) return out;
  for (const j of ix[dir].get(i) ?? []) {
    const e = g.edges[j];
    const other = g.functions[dir === 'callers' ? e[0] : e[1]];
    if (!other) continue;
    out.set(fkey(other[0], other[1], other[2]), { file: other[0], line: other[1], name: other[2], nc: e[2], ct: e[5] });
  }
  return out;
}

/**
 * Callers and callees of one function on one or both sides, with Δ.
 * @param {Graph|null} gb @param {Graph} gc @param {string} key @param {boolean} diff
 * @param {(key: string) => void} pick
 */
function edgesPanel(gb, gc, key, diff, pick) {
  const [file, line, name] = key.split('\u0000');
  const wrap = h('section', { class: 'detail', 'aria-labelledby': 'detail-title', id: 'detail' });
  wrap.append(h('h2', { id: 'detail-title', tabindex: '-1', text: funcLabel(file, Number(line), name) }));
  for (const dir of /** @type {const} */ (['callers', 'callees'])) {
    const a = neighbours(gb, key, dir);
    const b = neighbours(gc, key, dir);
    const keys = [...new Set([...a.keys(), ...b.keys()])];
    keys.sort((x, y) => Math.abs((b.get(y)?.ct ?? 0) - (a.get(y)?.ct ?? 0)) - Math.abs((b.get(x)?.ct ?? 0) - (a.get(x)?.ct ?? 0)));
    const head = diff
      ? ['Function', 'Calls before', 'Calls after', 'Cum. before', 'Cum. after', 'Δ cum.']
      : ['Function', 'Calls', 'Cumulative time'];
    const rows = keys.slice(0, 200).map((k) => {
      const x = a.get(k);
      const y = b.get(k);
      const f = /** @type {{file: string, line: number, name: string}} */ (y ?? x);
      const link = h('button', { type: 'button', class: 'linklike', onclick: () => pick(k), text: shortLabel(f.file, f.line, f.name), title: funcLabel(f.file, f.line, f.name) });
      if (!diff) return h('tr', {}, h('td', {}, link), h('td', { class: 'num', text: fmtInt(y?.nc) }), h('td', { class: 'num', text: fmtTime(y?.ct) }));
      const d = (y?.ct ?? 0) - (x?.ct ?? 0);
      return h(
        'tr',
        { class: d > 0 ? 'slower' : d < 0 ? 'faster' : '' },
        h('td', {}, link, !x ? h('span', { class: 'badge badge-added', text: 'added' }) : null, !y ? h('span', { class: 'badge badge-removed', text: 'removed' }) : null),
        h('td', { class: 'num', text: fmtInt(x?.nc) }),
        h('td', { class: 'num', text: fmtInt(y?.nc) }),
        h('td', { class: 'num', text: fmtTime(x?.ct) }),
        h('td', { class: 'num', text: fmtTime(y?.ct) }),
        h('td', { class: 'num delta', text: fmtDelta(d) }),
      );
    });
    wrap.append(
      h('h3', { text: dir === 'callers' ? `Called by (${keys.length})` : `Calls (${keys.length})` }),
      keys.length === 0
        ? h('p', { class: 'muted', text: dir === 'callers' ? 'No recorded callers (a root).' : 'No recorded callees.' })
        : h('div', { class: 'table-wrap' }, h('table', { class: 'grid compact', 'data-dir': dir }, h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, ...rows))),
    );
  }
  wrap.append(h('p', { class: 'muted small', text: PSTATS_NOTE }));
  return wrap;
}

// ---------------------------------------------------------------- compare view

/** Comparison ids by "baseline|candidate" for this page's life. @type {Map<string, string>} */
const comparisons = new Map();

/** Sortable columns of the comparison table: [label, server sort key, default descending]. */
const CMP_COLUMNS = /** @type {const} */ ([
  ['Function', 'name', false],
  ['Status', 'status', false],
  ['Calls before', 'baseline_nc', true],
  ['Calls after', 'candidate_nc', true],
  ['Δ calls', 'delta_nc', true],
  ['Own before', 'baseline_tt', true],
  ['Own after', 'candidate_tt', true],
  ['Δ own', 'delta_tt', true],
  ['Δ own %', 'percent', true],
  ['Cum. before', 'baseline_ct', true],
  ['Cum. after', 'candidate_ct', true],
  ['Δ cum.', 'delta_ct', true],
]);
const PAGE = 100;

async function compareView() {
  const { params } = route();
  main.replaceChildren(h('h1', { text: 'Compare two profiles' }), h('p', { text: 'Loading profiles…' }));
  /** @type {ProfileInfo[]} */
  let list;
  try {
    list = (await api.listProfiles()).filter((p) => p.status === 'ready');
  } catch (e) {
    main.replaceChildren(h('h1', { text: 'Compare two profiles' }), errorBox(e));
    return;
  }
  if (list.length < 2) {
    main.replaceChildren(h('h1', { text: 'Compare two profiles' }), h('p', {}, 'Upload at least two profiles first (', h('a', { href: '#/', text: 'upload' }), ').'));
    return;
  }
  // Defaults: the two most recent uploads, older as baseline.
  let b = params.get('b') ?? list[list.length - 2].id;
  let c = params.get('c') ?? list[list.length - 1].id;
  if (!list.some((p) => p.id === b)) b = list[list.length - 2].id;
  if (!list.some((p) => p.id === c)) c = list[list.length - 1].id;
  const st = {
    b,
    c,
    cmp: params.get('cmp') ?? comparisons.get(`${b}|${c}`) ?? '',
    sort: params.get('sort') ?? '',
    order: params.get('order') ?? '',
    q: params.get('q') ?? '',
    hb: params.get('hb') === '1',
    hs: params.get('hs') === '1',
    min: Number(params.get('min') ?? 0) || 0,
    norm: params.get('norm') === '1',
    page: Math.max(0, Number(params.get('page') ?? 0) || 0),
    tab: params.get('tab') === 'flame' ? 'flame' : 'table',
    fn: params.get('fn') ?? '',
    status: params.get('status') ?? '',
  };
  /** @type {HTMLAnchorElement|null} */
  let permalink = null;
  const save = () => {
    setHash('/compare', { b: st.b, c: st.c, cmp: st.cmp, sort: st.sort, order: st.order, q: st.q, hb: st.hb, hs: st.hs, min: st.min || '', norm: st.norm, status: st.status, page: st.page || '', tab: st.tab === 'flame' ? 'flame' : '', fn: st.fn });
    if (permalink) permalink.href = location.hash;
  };

  /** @param {string} id @param {string} sel */
  const picker = (id, sel) =>
    h('select', { id }, ...list.map((p) => {
      const o = /** @type {HTMLOptionElement} */ (h('option', { value: p.id, text: `${p.name} (${new Date(p.uploaded ?? 0).toLocaleTimeString()})` }));
      o.selected = p.id === sel;
      return o;
    }));
  const selB = /** @type {HTMLSelectElement} */ (picker('pick-baseline', st.b));
  const selC = /** @type {HTMLSelectElement} */ (picker('pick-candidate', st.c));
  const swap = h('button', { type: 'button', class: 'button small', text: 'Swap', 'aria-label': 'Swap baseline and candidate' });
  const status = h('p', { class: 'status-line', 'aria-live': 'polite', id: 'cmp-status' });
  const cards = h('div', { class: 'cards', id: 'cards' });
  const exports = h('p', { class: 'exports', id: 'exports' });
  const tabTable = h('button', { type: 'button', role: 'tab', id: 'tab-table', 'aria-controls': 'panel-table', text: 'Functions' });
  const tabFlame = h('button', { type: 'button', role: 'tab', id: 'tab-flame', 'aria-controls': 'panel-flame', text: 'Flame graph' });
  const panelTable = h('section', { role: 'tabpanel', id: 'panel-table', 'aria-labelledby': 'tab-table' });
  const panelFlame = h('section', { role: 'tabpanel', id: 'panel-flame', 'aria-labelledby': 'tab-flame' });
  main.replaceChildren(
    h('h1', { text: 'Compare two profiles' }),
    h(
      'form',
      { class: 'pickers', onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h('div', { class: 'field' }, h('label', { for: 'pick-baseline', text: 'Baseline (before)' }), selB),
      swap,
      h('div', { class: 'field' }, h('label', { for: 'pick-candidate', text: 'Candidate (after)' }), selC),
    ),
    status,
    cards,
    exports,
    h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Comparison views' }, tabTable, tabFlame),
    panelTable,
    panelFlame,
  );

  /** @type {{max_abs_delta_tt: number, added: number, removed: number, changed: number, unchanged: number, rows: number}|null} */
  let summary = null;
  let generation = 0;

  const start = async () => {
    const gen = ++generation;
    save();
    cards.replaceChildren();
    exports.replaceChildren();
    panelTable.replaceChildren();
    panelFlame.replaceChildren();
    if (st.b === st.c) {
      status.textContent = 'Pick two different profiles.';
      return;
    }
    status.textContent = 'Comparing…';
    try {
      if (!st.cmp) {
        const r = await api.startCompare(st.b, st.c);
        st.cmp = r.comparison_id;
        comparisons.set(`${st.b}|${st.c}`, st.cmp);
        save();
      }
      for (let i = 0; ; i++) {
        let first;
        try {
          first = await api.comparisonPage(st.cmp, { limit: 1 });
        } catch (e) {
          // An id from an old URL that has expired: compute it again.
          if (e instanceof api.ApiError && e.status === 404 && i === 0) {
            const r = await api.startCompare(st.b, st.c);
            st.cmp = r.comparison_id;
            comparisons.set(`${st.b}|${st.c}`, st.cmp);
            save();
            continue;
          }
          throw e;
        }
        if (gen !== generation) return;
        if (first) break;
        await new Promise((r) => setTimeout(r, Math.min(1000, 150 + i * 50)));
      }
      summary = await api.comparisonSummary(st.cmp);
      if (gen !== generation) return;
    } catch (e) {
      status.replaceChildren(errorBox(e));
      return;
    }
    status.textContent = '';
    drawCards();
    exports.replaceChildren(
      'Export: ',
      h('a', { href: `/api/comparisons/${st.cmp}?format=csv`, download: `comparison-${st.cmp}.csv`, id: 'export-csv', text: 'CSV' }),
      ' · ',
      h('a', { href: `/api/comparisons/${st.cmp}?format=json`, download: `comparison-${st.cmp}.json`, id: 'export-json', text: 'JSON (profdiff.comparison/v1)' }),
      ' · ',
      (permalink = /** @type {HTMLAnchorElement} */ (h('a', { href: location.hash, id: 'permalink', text: 'Link to this view' }))),
    );
    showTab();
  };

  const drawCards = () => {
    if (!summary) return;
    const s = /** @type {any} */ (summary);
    const tb = s.baseline?.total_time ?? 0;
    const tc = s.candidate?.total_time ?? 0;
    const d = tc - tb;
    const pct = tb !== 0 ? (100 * d) / tb : null;
    const speed = tc > 0 && tb > 0 ? tb / tc : null;
    /** @param {string} label @param {string} value @param {string} [sub] @param {string} [cls] */
    const card = (label, value, sub, cls) => h('div', { class: `card ${cls ?? ''}` }, h('span', { class: 'card-label', text: label }), h('span', { class: 'card-value', text: value }), sub ? h('span', { class: 'card-sub', text: sub }) : null);
    const dir = d > 0 ? 'slower' : d < 0 ? 'faster' : '';
    cards.replaceChildren(
      card('Total time before', fmtTime(tb), s.baseline?.name),
      card('Total time after', fmtTime(tc), s.candidate?.name),
      card('Δ total time', fmtDelta(d), fmtPct(pct), dir),
      card('Speed-up', speed ? `${speed.toFixed(2)}×` : '–', speed ? (speed > 1.0005 ? 'faster' : speed < 0.9995 ? 'slower' : 'no change') : '', dir),
      card('Δ calls', fmtSignedInt((s.candidate?.total_calls ?? 0) - (s.baseline?.total_calls ?? 0)), `${fmtInt(s.baseline?.total_calls)} → ${fmtInt(s.candidate?.total_calls)}`),
      card('Functions', `+${fmtInt(s.added)} / −${fmtInt(s.removed)}`, `${fmtInt(s.changed)} changed, ${fmtInt(s.unchanged)} unchanged`),
    );
  };

  const showTab = () => {
    tabTable.setAttribute('aria-selected', String(st.tab === 'table'));
    tabFlame.setAttribute('aria-selected', String(st.tab === 'flame'));
    tabTable.tabIndex = st.tab === 'table' ? 0 : -1;
    tabFlame.tabIndex = st.tab === 'flame' ? 0 : -1;
    panelTable.hidden = st.tab !== 'table';
    panelFlame.hidden = st.tab !== 'flame';
    save();
    if (!st.cmp || !summary) return;
    if (st.tab === 'table') {
      if (!panelTable.firstChild) buildTable();
    } else if (!panelFlame.firstChild) buildFlame();
  };
  tabTable.addEventListener('click', () => {
    st.tab = 'table';
    showTab();
  });
  tabFlame.addEventListener('click', () => {
    st.tab = 'flame';
    showTab();
  });
  for (const t of [tabTable, tabFlame])
    t.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        st.tab = st.tab === 'table' ? 'flame' : 'table';
        showTab();
        (st.tab === 'table' ? tabTable : tabFlame).focus();
      }
    });

  const buildTable = () => {
    const filter = /** @type {HTMLInputElement} */ (h('input', { type: 'search', id: 'filter', value: st.q, placeholder: 'name or file', autocomplete: 'off' }));
    const hb = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'hide-builtins' }));
    hb.checked = st.hb;
    const hs = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'hide-stdlib' }));
    hs.checked = st.hs;
    const statusSel = /** @type {HTMLSelectElement} */ (
      h('select', { id: 'status-filter' }, ...[['', 'All functions'], ['changed', 'Changed'], ['added,removed', 'Added or removed'], ['added', 'Added'], ['removed', 'Removed'], ['unchanged', 'Unchanged']].map(([v, t]) => h('option', { value: v, text: t })))
    );
    statusSel.value = st.status;
    statusSel.addEventListener('change', () => {
      st.status = statusSel.value;
      reload();
    });
    const norm = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'normalise' }));
    norm.checked = st.norm;
    const maxAbs = summary?.max_abs_delta_tt ?? 0;
    const slider = /** @type {HTMLInputElement} */ (h('input', { type: 'range', id: 'min-delta', min: '0', max: '100', step: '1', value: '0' }));
    // Quadratic scale: most of the travel goes to small thresholds.
    const toSecs = (/** @type {number} */ v) => maxAbs * (v / 100) ** 2;
    slider.value = String(maxAbs > 0 ? Math.round(100 * Math.sqrt(Math.min(1, st.min / maxAbs))) : 0);
    const sliderOut = h('output', { for: 'min-delta', id: 'min-delta-value', text: st.min ? `≥ ${fmtTime(st.min)}` : 'any' });
    const controls = h(
      'div',
      { class: 'controls' },
      h('div', { class: 'field' }, h('label', { for: 'filter', text: 'Filter functions' }), filter),
      h('div', { class: 'field' }, h('label', { for: 'status-filter', text: 'Show' }), statusSel),
      h('div', { class: 'check' }, hb, h('label', { for: 'hide-builtins', text: 'Hide built-ins' })),
      h('div', { class: 'check' }, hs, h('label', { for: 'hide-stdlib', text: 'Hide standard library' })),
      h('div', { class: 'check' }, norm, h('label', { for: 'normalise', text: 'Times as % of total' })),
      h('div', { class: 'field' }, h('label', { for: 'min-delta', text: 'Minimum |Δ own time|' }), h('div', { class: 'slider' }, slider, sliderOut)),
    );
    const table = h('table', { class: 'grid', id: 'cmp-table', 'aria-rowcount': '-1' });
    const pager = h('div', { class: 'pager' });
    const detail = h('div', { id: 'detail-host' });
    panelTable.replaceChildren(controls, h('div', { class: 'table-wrap' }, table), pager, detail);

    const load = async () => {
      save();
      table.setAttribute('aria-busy', 'true');
      /** @type {import('./api.js').ComparisonPage|null} */
      let page;
      try {
        page = await api.comparisonPage(st.cmp, {
          limit: PAGE,
          offset: st.page * PAGE,
          sort: st.sort || undefined,
          order: st.sort ? st.order || undefined : undefined,
          q: st.q ? escapeRegex(st.q) : undefined,
          hide_builtins: st.hb || undefined,
          hide_stdlib: st.hs || undefined,
          min_delta: st.min > 0 ? st.min : undefined,
          status: st.status || undefined,
        });
      } catch (e) {
        table.removeAttribute('aria-busy');
        pager.replaceChildren(errorBox(e));
        return;
      }
      table.removeAttribute('aria-busy');
      if (!page) return;
      drawRows(page);
    };
    const reload = debounce(() => {
      st.page = 0;
      load();
    }, 250);
    filter.addEventListener('input', () => {
      st.q = filter.value;
      reload();
    });
    hb.addEventListener('change', () => {
      st.hb = hb.checked;
      reload();
    });
    hs.addEventListener('change', () => {
      st.hs = hs.checked;
      reload();
    });
    norm.addEventListener('change', () => {
      st.norm = norm.checked;
      load();
    });
    slider.addEventListener('input', () => {
      st.min = toSecs(Number(slider.value));
      sliderOut.textContent = st.min ? `≥ ${fmtTime(st.min)}` : 'any';
      reload();
    });

    /** @param {import('./api.js').ComparisonPage} page */
    const drawRows = (page) => {
      const doc = page.comparison;
      const tb = doc.baseline.total_time || 1;
      const tc = doc.candidate.total_time || 1;
      /** @param {number|undefined} v @param {number} total */
      const t = (v, total) => (v === undefined ? '–' : st.norm ? `${((100 * v) / total).toFixed(2)} %` : fmtTime(v));
      /** @param {number|undefined} vb @param {number|undefined} vc */
      const dt = (vb, vc) => (st.norm ? `${(100 * ((vc ?? 0) / tc - (vb ?? 0) / tb)).toFixed(2)} pt` : fmtDelta((vc ?? 0) - (vb ?? 0)));
      const head = h(
        'tr',
        {},
        ...CMP_COLUMNS.map(([label, key, desc]) => {
          const active = st.sort === key;
          const descending = active ? (st.order ? st.order === 'desc' : desc) : false;
          const btn = h('button', {
            type: 'button',
            class: 'sort',
            'data-sort': key,
            onclick: () => {
              if (active) st.order = descending ? 'asc' : 'desc';
              else {
                st.sort = key;
                st.order = desc ? 'desc' : 'asc';
              }
              st.page = 0;
              load().then(() => /** @type {HTMLElement|null} */ (table.querySelector(`button[data-sort="${key}"]`))?.focus());
            },
            text: label + (active ? (descending ? ' ▼' : ' ▲') : ''),
          });
          return h('th', { scope: 'col', 'aria-sort': active ? (descending ? 'descending' : 'ascending') : 'none', class: key === 'name' || key === 'status' ? '' : 'num' }, btn);
        }),
      );
      const rows = doc.functions.map((r) => {
        const key = fkey(r.file, r.line, r.name);
        const cls = r.delta.tt > 0 ? 'slower' : r.delta.tt < 0 ? 'faster' : '';
        const pct = r.baseline && r.baseline.tt !== 0 ? (100 * r.delta.tt) / r.baseline.tt : null;
        const name = h('button', {
          type: 'button',
          class: 'linklike fn',
          title: funcLabel(r.file, r.line, r.name),
          onclick: () => pick(key),
          text: shortLabel(r.file, r.line, r.name),
        });
        return h(
          'tr',
          { class: `${cls}${st.fn === key ? ' selected' : ''}`, 'data-name': r.name, 'data-status': r.status },
          h('th', { scope: 'row', class: 'fn-cell' }, name),
          h('td', {}, r.status === 'added' || r.status === 'removed' ? h('span', { class: `badge badge-${r.status}`, text: r.status }) : h('span', { class: 'muted', text: r.status })),
          h('td', { class: 'num', text: fmtInt(r.baseline?.nc) }),
          h('td', { class: 'num', text: fmtInt(r.candidate?.nc) }),
          h('td', { class: 'num', text: fmtSignedInt(r.delta.nc) }),
          h('td', { class: 'num', text: t(r.baseline?.tt, tb) }),
          h('td', { class: 'num', text: t(r.candidate?.tt, tc) }),
          h('td', { class: 'num delta', text: dt(r.baseline?.tt, r.candidate?.tt) }),
          h('td', { class: 'num', text: fmtPct(pct) }),
          h('td', { class: 'num', text: t(r.baseline?.ct, tb) }),
          h('td', { class: 'num', text: t(r.candidate?.ct, tc) }),
          h('td', { class: 'num delta', text: dt(r.baseline?.ct, r.candidate?.ct) }),
        );
      });
      table.replaceChildren(
        h('caption', { class: 'visually-hidden', text: 'Functions of both profiles with their differences; red is slower, blue is faster' }),
        h('thead', {}, head),
        h('tbody', {}, ...rows),
      );
      const from = page.total_rows === 0 ? 0 : st.page * PAGE + 1;
      const to = Math.min(page.total_rows, (st.page + 1) * PAGE);
      const prev = h('button', { type: 'button', class: 'button small', disabled: st.page === 0, text: '← Previous', onclick: () => { st.page--; load(); } });
      const next = h('button', { type: 'button', class: 'button small', disabled: to >= page.total_rows, text: 'Next →', onclick: () => { st.page++; load(); } });
      pager.replaceChildren(prev, h('span', { id: 'row-count', 'aria-live': 'polite', text: `Rows ${fmtInt(from)}–${fmtInt(to)} of ${fmtInt(page.total_rows)}` }), next);
    };

    /** @param {string} key */
    const pick = async (key) => {
      st.fn = key;
      save();
      for (const tr of table.querySelectorAll('tr.selected')) tr.classList.remove('selected');
      detail.replaceChildren(h('p', { text: 'Loading callers and callees…' }));
      try {
        const [gb, gc] = await Promise.all([api.graph(st.b), api.graph(st.c)]);
        detail.replaceChildren(edgesPanel(gb, gc, key, true, pick));
        /** @type {HTMLElement|null} */ (detail.querySelector('#detail-title'))?.focus();
      } catch (e) {
        detail.replaceChildren(errorBox(e));
      }
    };
    load();
    if (st.fn) pick(st.fn);
  };

  const buildFlame = async () => {
    panelFlame.replaceChildren(h('p', { text: 'Building the flame graph…' }));
    let gb;
    let gc;
    try {
      [gb, gc] = await Promise.all([api.graph(st.b), api.graph(st.c)]);
    } catch (e) {
      panelFlame.replaceChildren(errorBox(e));
      return;
    }
    const trees = { base: buildTree(gb), cand: buildTree(gc) };
    const mode = /** @type {HTMLSelectElement} */ (h('select', { id: 'flame-mode' }, h('option', { value: 'diff', text: 'Differential (width: larger side; red slower, blue faster)' }), h('option', { value: 'base', text: 'Baseline only' }), h('option', { value: 'cand', text: 'Candidate only' })));
    const search = /** @type {HTMLInputElement} */ (h('input', { type: 'search', id: 'flame-search', placeholder: 'function or file', autocomplete: 'off' }));
    const matches = h('output', { for: 'flame-search', id: 'flame-matches' });
    const host = h('div', { class: 'flame', id: 'flame' });
    panelFlame.replaceChildren(
      h('p', { class: 'note', text: PSTATS_NOTE + ` At most ${fmtInt(NODE_CAP)} blocks per profile; blocks under 0.05 % of the total are left out.` }),
      h('div', { class: 'controls' }, h('div', { class: 'field' }, h('label', { for: 'flame-mode', text: 'Show' }), mode), h('div', { class: 'field' }, h('label', { for: 'flame-search', text: 'Highlight' }), search), matches),
      h('p', { class: 'legend' }, h('span', { class: 'swatch swatch-slower' }), ' slower after ', h('span', { class: 'swatch swatch-faster' }), ' faster after ', h('span', { class: 'swatch swatch-same' }), ' unchanged'),
      host,
    );
    let fg = renderFlame(host, mergeTrees(trees.base, trees.cand), { diff: true });
    mode.addEventListener('change', () => {
      const m = mode.value;
      fg = m === 'diff' ? renderFlame(host, mergeTrees(trees.base, trees.cand), { diff: true }) : renderFlame(host, mergeTrees(null, m === 'base' ? trees.base : trees.cand), { diff: false });
      if (search.value) matches.textContent = `${fg.setSearch(search.value)} matching blocks`;
    });
    search.addEventListener(
      'input',
      debounce(() => {
        const n = fg.setSearch(search.value);
        matches.textContent = search.value ? `${n} matching blocks` : '';
      }, 150),
    );
  };

  const restart = () => {
    st.b = selB.value;
    st.c = selC.value;
    st.cmp = comparisons.get(`${st.b}|${st.c}`) ?? '';
    st.page = 0;
    st.fn = '';
    summary = null;
    start();
  };
  selB.addEventListener('change', restart);
  selC.addEventListener('change', restart);
  swap.addEventListener('click', () => {
    const x = selB.value;
    selB.value = selC.value;
    selC.value = x;
    restart();
  });
  start();
}

// ---------------------------------------------------------------- one profile

/** pstats columns: [label, accessor, numeric]. */
const PSTATS_COLUMNS = /** @type {const} */ ([
  ['ncalls', 'nc'],
  ['tottime', 'tt'],
  ['percall', 'ptt'],
  ['cumtime', 'ct'],
  ['percall', 'pct'],
  ['filename:lineno(function)', 'name'],
]);

/** @param {string} id */
async function profileView(id) {
  const { params } = route();
  main.replaceChildren(h('h1', { text: 'Profile' }), h('p', { text: 'Loading…' }));
  /** @type {Graph} */
  let g;
  try {
    g = await api.graph(id);
  } catch (e) {
    main.replaceChildren(h('h1', { text: 'Profile' }), errorBox(e));
    return;
  }
  const st = { sort: params.get('sort') ?? 'tt', asc: params.get('order') === 'asc', q: params.get('q') ?? '', tab: params.get('tab') === 'flame' ? 'flame' : 'table', fn: params.get('fn') ?? '', shown: 200 };
  const save = () => setHash(`/profile/${id}`, { sort: st.sort === 'tt' ? '' : st.sort, order: st.asc ? 'asc' : '', q: st.q, tab: st.tab === 'flame' ? 'flame' : '', fn: st.fn });
  const rows = g.functions
    .map((f, i) => ({ i, file: f[0], line: f[1], name: f[2], cc: f[3], nc: f[4], tt: f[5], ct: f[6], ptt: f[4] ? f[5] / f[4] : 0, pct: f[3] ? f[6] / f[3] : 0, label: funcLabel(f[0], f[1], f[2]) }))
    // Callers without an entry of their own are graph-only.
    .filter((r, i) => i < g.functions.length && (r.nc !== 0 || r.tt !== 0 || r.ct !== 0 || r.cc !== 0));
  const tabTable = h('button', { type: 'button', role: 'tab', id: 'ptab-table', 'aria-controls': 'ppanel-table', text: 'Functions' });
  const tabFlame = h('button', { type: 'button', role: 'tab', id: 'ptab-flame', 'aria-controls': 'ppanel-flame', text: 'Icicle' });
  const panelTable = h('section', { role: 'tabpanel', id: 'ppanel-table', 'aria-labelledby': 'ptab-table' });
  const panelFlame = h('section', { role: 'tabpanel', id: 'ppanel-flame', 'aria-labelledby': 'ptab-flame' });
  main.replaceChildren(
    h('h1', { text: g.name }),
    h('p', { class: 'muted', text: `${fmtInt(g.total_calls)} function calls (${fmtInt(g.primitive_calls)} primitive calls) in ${fmtSec(g.total_time)} seconds · ${fmtInt(rows.length)} functions · ${g.producer}` }),
    h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Profile views' }, tabTable, tabFlame),
    panelTable,
    panelFlame,
  );
  const show = () => {
    tabTable.setAttribute('aria-selected', String(st.tab === 'table'));
    tabFlame.setAttribute('aria-selected', String(st.tab === 'flame'));
    panelTable.hidden = st.tab !== 'table';
    panelFlame.hidden = st.tab !== 'flame';
    save();
    if (st.tab === 'table' && !panelTable.firstChild) buildTable();
    if (st.tab === 'flame' && !panelFlame.firstChild) {
      const search = /** @type {HTMLInputElement} */ (h('input', { type: 'search', id: 'flame-search', autocomplete: 'off' }));
      const host = h('div', { class: 'flame', id: 'flame' });
      panelFlame.replaceChildren(h('p', { class: 'note', text: PSTATS_NOTE }), h('div', { class: 'field' }, h('label', { for: 'flame-search', text: 'Highlight' }), search), host);
      const fg = renderFlame(host, mergeTrees(null, buildTree(g)), { diff: false });
      search.addEventListener('input', debounce(() => fg.setSearch(search.value), 150));
    }
  };
  tabTable.addEventListener('click', () => { st.tab = 'table'; show(); });
  tabFlame.addEventListener('click', () => { st.tab = 'flame'; show(); });

  const buildTable = () => {
    const filter = /** @type {HTMLInputElement} */ (h('input', { type: 'search', id: 'filter', value: st.q, autocomplete: 'off' }));
    const table = h('table', { class: 'grid pstats', id: 'profile-table' });
    const more = h('div', { class: 'pager' });
    const detail = h('div', { id: 'detail-host' });
    panelTable.replaceChildren(h('div', { class: 'controls' }, h('div', { class: 'field' }, h('label', { for: 'filter', text: 'Filter functions' }), filter)), h('div', { class: 'table-wrap' }, table), more, detail);
    const draw = () => {
      save();
      const q = st.q.toLowerCase();
      const key = /** @type {'nc'|'tt'|'ptt'|'ct'|'pct'|'label'} */ (st.sort === 'name' ? 'label' : st.sort);
      const list = rows.filter((r) => !q || r.label.toLowerCase().includes(q));
      list.sort((a, b) => {
        const x = a[key];
        const y = b[key];
        const c = typeof x === 'string' ? x.localeCompare(/** @type {string} */ (y)) : /** @type {number} */ (x) - /** @type {number} */ (y);
        return st.asc ? c : -c;
      });
      const head = h('tr', {}, ...PSTATS_COLUMNS.map(([label, k]) => {
        const active = st.sort === k;
        return h('th', { scope: 'col', class: k === 'name' ? '' : 'num', 'aria-sort': active ? (st.asc ? 'ascending' : 'descending') : 'none' },
          h('button', { type: 'button', class: 'sort', 'data-sort': k, text: label + (active ? (st.asc ? ' ▲' : ' ▼') : ''), onclick: () => {
            if (active) st.asc = !st.asc;
            else { st.sort = k; st.asc = k === 'name'; }
            draw();
            /** @type {HTMLElement|null} */ (table.querySelector(`button[data-sort="${k}"]`))?.focus();
          } }));
      }));
      const body = list.slice(0, st.shown).map((r) =>
        h('tr', { 'data-name': r.name },
          h('td', { class: 'num', text: r.nc === r.cc ? String(r.nc) : `${r.nc}/${r.cc}` }),
          h('td', { class: 'num', text: fmtSec(r.tt) }),
          h('td', { class: 'num', text: fmtSec(r.ptt) }),
          h('td', { class: 'num', text: fmtSec(r.ct) }),
          h('td', { class: 'num', text: fmtSec(r.pct) }),
          h('th', { scope: 'row', class: 'fn-cell' }, h('button', { type: 'button', class: 'linklike fn', text: r.label, onclick: () => pick(fkey(r.file, r.line, r.name)) }))));
      table.replaceChildren(h('caption', { class: 'visually-hidden', text: 'Functions as python -m pstats lists them' }), h('thead', {}, head), h('tbody', {}, ...body));
      more.replaceChildren(
        h('span', { id: 'row-count', text: `Showing ${fmtInt(Math.min(st.shown, list.length))} of ${fmtInt(list.length)}` }),
      );
      if (list.length > st.shown) more.append(h('button', { type: 'button', class: 'button small', text: 'Show 200 more', onclick: () => { st.shown += 200; draw(); } }));
    };
    /** @param {string} key */
    const pick = (key) => {
      st.fn = key;
      save();
      detail.replaceChildren(edgesPanel(null, g, key, false, pick));
      /** @type {HTMLElement|null} */ (detail.querySelector('#detail-title'))?.focus();
    };
    filter.addEventListener('input', debounce(() => { st.q = filter.value; st.shown = 200; draw(); }, 200));
    draw();
    if (st.fn) pick(st.fn);
  };
  show();
}

// ---------------------------------------------------------------- router

function render() {
  clearTimeout(listTimer);
  leaveBatch();
  const r = route();
  for (const a of document.querySelectorAll('.nav a')) a.removeAttribute('aria-current');
  if (r.view === 'compare') {
    document.getElementById('nav-compare')?.setAttribute('aria-current', 'page');
    compareView();
  } else if (r.view === 'batch') {
    document.getElementById('nav-batch')?.setAttribute('aria-current', 'page');
    batchView(main, r.id);
  } else if (r.view === 'profile' && r.id) profileView(r.id);
  else {
    document.getElementById('nav-home')?.setAttribute('aria-current', 'page');
    homeView();
  }
  refreshSession();
}

window.addEventListener('hashchange', render);
document.getElementById('skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
// Dropping a file outside the drop zone must not navigate away from the app.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => {
  e.preventDefault();
  const files = e.dataTransfer?.files;
  if (!files || !files.length) return;
  if (route().view === 'home') uploadFiles(files);
  else if (route().view === 'batch') dropOnBatch([...files]);
});
setInterval(refreshSession, 60_000);
render();
