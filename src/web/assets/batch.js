// The batch page: many dumps with roles (baseline / candidate) sent in one request to
// POST /api/batches, then GET /api/batches/{id} polled for progress and, once every dump
// is parsed, the profdiff.batch/v1 summary: candidate totals, top regressions and
// improvements, repeated-runs statistics and per-run trends drawn as SVG sparklines.
// #/batch composes a batch; #/batch/{id} shows one, so a reload reopens it.

import * as api from './api.js';
import { h, fmtTime, fmtDelta, fmtPct, fmtBytes, fmtInt, fmtP, fmtEffect, funcLabel, shortLabel, acceptDroppedFiles } from './util.js';

/** @typedef {import('./api.js').BatchState} BatchState */
/** @typedef {import('./api.js').BatchSummary} BatchSummary */
/** @typedef {import('./api.js').GroupDiff} GroupDiff */
/** @typedef {import('./api.js').FunctionGroupDiff} FunctionGroupDiff */
/** @typedef {'baseline'|'candidate'|'archive'} Role */
/** @typedef {{file: File, role: Role, key: number}} Entry */

const SVG = 'http://www.w3.org/2000/svg';
/** What POST /api/batches accepts as a dump, and as an archive of dumps. */
const DUMP_EXT = /\.(prof|pstats|pkl)$/i;
const ARCHIVE_EXT = /\.(zip|tar\.gz|tgz)$/i;
/** The server refuses more dumps than this in one batch. */
const MAX_FILES = 200;
/** Names that say "the reference run": before, base, baseline as a word of the name. */
const BASELINE_NAME = /(^|[^a-z])(before|base|baseline)([^a-z]|$)/i;

/** @param {unknown} e */
const errText = (e) => (e instanceof Error ? e.message : String(e));

/** @param {unknown} e */
const errorBox = (e) => h('p', { class: 'error', role: 'alert' }, errText(e));

/** Adds dropped files to the mounted compose view (the window drop handler calls it). @type {((files: Iterable<File>) => void)|null} */
let addToCompose = null;

/**
 * Files dropped anywhere on the page while the compose view is open.
 * @param {Iterable<File>} files
 * @returns {boolean} whether the compose view took them
 */
export function dropOnBatch(files) {
  if (!addToCompose) return false;
  addToCompose(files);
  return true;
}

/** Stops a batch poll and forgets the compose view (the route is changing). */
export function leaveBatch() {
  addToCompose = null;
  pollRun++;
}

/**
 * The #/batch views: compose (no id) or one batch.
 * @param {HTMLElement} main
 * @param {string} id
 */
export function batchView(main, id) {
  if (id) resultView(main, id);
  else composeView(main);
}

// ---------------------------------------------------------------- compose + upload

/** The upload limit, from /api/session-info (null: unknown, the server will say). */
async function uploadLimit() {
  try {
    const s = await api.sessionInfo();
    const n = Number(s.max_upload_bytes);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** @param {HTMLElement} main */
function composeView(main) {
  /** @type {Entry[]} */
  const entries = [];
  let nextKey = 0;
  /** @type {number|null} */
  let limit = null;
  let sending = false;
  const limitKnown = uploadLimit().then((n) => {
    limit = n;
    draw();
  });

  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'file', id: 'batch-file-input', multiple: true, accept: '.prof,.pstats,.pkl,.zip,.tar.gz,.tgz', class: 'visually-hidden' }));
  const list = h('ul', { class: 'batch-files', id: 'batch-files', 'aria-label': 'Files of this batch' });
  const refused = h('ul', { class: 'batch-refused', id: 'batch-refused', 'aria-label': 'Files not added' });
  const counts = h('p', { id: 'batch-counts', 'aria-live': 'polite' });
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button primary', id: 'batch-submit', text: 'Compare this batch' }));
  const clearBtn = h('button', { type: 'button', class: 'button', id: 'batch-clear', text: 'Remove all', onclick: () => { entries.length = 0; refused.replaceChildren(); draw(); } });
  const bar = /** @type {HTMLProgressElement} */ (h('progress', { max: '1', value: '0', id: 'batch-upload-progress', 'aria-label': 'Upload progress of the batch', hidden: true }));
  const status = h('p', { id: 'batch-upload-status', 'aria-live': 'polite', class: 'status-line' });
  const errors = h('div', { id: 'batch-error' });

  /** @param {string} name @param {string} why */
  const refuse = (name, why) => refused.append(h('li', { 'data-name': name }, h('strong', { text: name }), `: ${why}`));

  /** @param {Iterable<File>} files */
  const add = (files) => {
    if (sending) return;
    for (const file of files) {
      if (!DUMP_EXT.test(file.name) && !ARCHIVE_EXT.test(file.name)) {
        refuse(file.name, 'not a profile dump. A batch takes .prof, .pstats and .pkl files from cProfile, profile or yappi, and .zip, .tar.gz or .tgz archives of them.');
        continue;
      }
      if (limit !== null && file.size > limit) {
        refuse(file.name, `too big (${fmtBytes(file.size)}): the server accepts at most ${fmtBytes(limit)} per upload.`);
        continue;
      }
      if (file.size === 0) {
        refuse(file.name, 'the file is empty.');
        continue;
      }
      if (entries.length >= MAX_FILES) {
        refuse(file.name, `a batch holds at most ${MAX_FILES} files.`);
        continue;
      }
      const role = BASELINE_NAME.test(file.name.replace(/\.[^.]*$/, '')) ? 'baseline' : 'candidate';
      entries.push({ file, role, key: nextKey++ });
    }
    // Nothing named like a baseline: the first file is the reference.
    if (entries.length > 0 && !entries.some((e) => e.role === 'baseline' || e.role === 'archive')) entries[0].role = 'baseline';
    draw();
  };
  addToCompose = (files) => {
    // The limit may still be on its way; refuse by size only once it is known.
    limitKnown.then(() => add(files));
  };

  const draw = () => {
    list.replaceChildren(
      ...entries.map((e, i) => {
        const sel = /** @type {HTMLSelectElement} */ (h('select', { id: `batch-role-${e.key}`, class: 'batch-role', disabled: sending },
          h('option', { value: 'baseline', text: 'Baseline' }),
          h('option', { value: 'candidate', text: 'Candidate' }),
          ARCHIVE_EXT.test(e.file.name) ? h('option', { value: 'archive', text: 'By folder (baseline/, candidate/)' }) : null));
        sel.value = e.role;
        sel.addEventListener('change', () => {
          e.role = /** @type {Role} */ (sel.value);
          draw();
          /** @type {HTMLElement|null} */ (list.querySelector(`#batch-role-${e.key}`))?.focus();
        });
        const remove = h('button', {
          type: 'button',
          class: 'button small',
          'aria-label': `Remove ${e.file.name}`,
          disabled: sending,
          text: 'Remove',
          onclick: () => {
            entries.splice(i, 1);
            draw();
            const next = /** @type {HTMLElement|null} */ (list.querySelectorAll('button')[Math.min(i, entries.length - 1)] ?? null);
            (next ?? input).focus();
          },
        });
        return h('li', { class: 'batch-file', 'data-name': e.file.name, 'data-role': e.role },
          h('span', { class: 'batch-file-name', text: e.file.name }),
          h('span', { class: 'batch-file-size', text: fmtBytes(e.file.size) }),
          h('span', { class: 'batch-file-role' }, h('label', { for: `batch-role-${e.key}`, class: 'visually-hidden', text: `Role of ${e.file.name}` }), sel),
          remove);
      }),
    );
    const nb = entries.filter((e) => e.role === 'baseline').length;
    const nc = entries.filter((e) => e.role === 'candidate').length;
    const byFolder = entries.some((e) => e.role === 'archive');
    const total = entries.reduce((s, e) => s + e.file.size, 0);
    const over = limit !== null && total > limit;
    const ready = (nb >= 1 && nc >= 1) || byFolder;
    submit.disabled = sending || !ready || over;
    clearBtn.toggleAttribute('disabled', sending || entries.length === 0);
    /** @type {string[]} */
    const parts = [`${nb} baseline${nb === 1 ? '' : 's'}, ${nc} candidate${nc === 1 ? '' : 's'}${byFolder ? ', archives sorted by folder' : ''} · ${fmtBytes(total)}`];
    if (entries.length === 0) parts[0] = 'No files yet.';
    else if (over && limit !== null) parts.push(`Together these files are over the ${fmtBytes(limit)} the server accepts in one upload: remove some.`);
    else if (!ready) parts.push(nb === 0 ? 'Mark at least one file as baseline.' : 'Mark at least one file as candidate.');
    counts.textContent = parts.join(' ');
    counts.classList.toggle('error', over);
  };

  const send = async () => {
    if (submit.disabled) return;
    sending = true;
    errors.replaceChildren();
    draw();
    bar.hidden = false;
    bar.value = 0;
    status.textContent = 'Uploading…';
    const payload = entries.map((e) => ({ file: e.file, role: e.role }));
    try {
      const res = await api.retryWhileBusy(
        () =>
          api.createBatch(payload, (f) => {
            bar.value = f;
            status.textContent = `Uploading… ${Math.round(f * 100)} %`;
          }),
        (e) => {
          status.textContent = e.message;
          bar.value = 0;
        },
      );
      bar.value = 1;
      status.textContent = 'Uploaded; parsing…';
      addToCompose = null;
      location.hash = `#/batch/${res.batch_id}`;
    } catch (e) {
      sending = false;
      bar.hidden = true;
      status.textContent = '';
      errors.replaceChildren(h('p', { class: 'error', role: 'alert' }, `The batch was not accepted: ${errText(e)}`));
      draw();
    }
  };

  input.addEventListener('change', () => {
    if (input.files) addToCompose?.([...input.files]);
    input.value = '';
  });
  const form = h('form', { id: 'batch-form', 'aria-labelledby': 'batch-title' });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  const drop = h(
    'section',
    { class: 'dropzone', id: 'batch-dropzone', 'aria-labelledby': 'batch-drop-title' },
    h('h2', { id: 'batch-drop-title', text: 'Files' }),
    h('p', {}, 'Drop ', h('code', { text: '.prof' }), ', ', h('code', { text: '.pstats' }), ' or ', h('code', { text: '.pkl' }), ' dumps (or ', h('code', { text: '.zip' }), ' / ', h('code', { text: '.tar.gz' }), ' archives of them) here, or '),
    h('label', { for: 'batch-file-input', class: 'button' }, 'Choose files…'),
    input,
    // Announced as they come: the person chose these files and should hear why not.
    h('div', { role: 'alert' }, refused),
    list,
  );
  acceptDroppedFiles(drop, (files) => addToCompose?.(files));
  form.append(
    drop,
    counts,
    h('div', { class: 'row-head' }, submit, clearBtn),
    bar,
    status,
    errors,
  );
  main.replaceChildren(
    h('h1', { id: 'batch-title', text: 'Compare a batch' }),
    h('p', { class: 'muted' }, 'One baseline (or several runs of it) against any number of candidates (or several runs of one). Files named like ', h('code', { text: 'before' }), ' or ', h('code', { text: 'base' }), ' start as baseline, the rest as candidates; with none of those the first file is the baseline. Change any role below.'),
    form,
  );
  draw();
}

// ---------------------------------------------------------------- one batch

/** Increments when the view changes, so an old poll stops. */
let pollRun = 0;

/**
 * @param {HTMLElement} main
 * @param {string} id
 */
async function resultView(main, id) {
  const run = ++pollRun;
  const bar = /** @type {HTMLProgressElement} */ (h('progress', { id: 'batch-progress', max: '1', value: '0', 'aria-labelledby': 'batch-progress-text' }));
  const text = h('p', { id: 'batch-progress-text', 'aria-live': 'polite', text: 'Loading…' });
  const failures = h('div', { id: 'batch-failures-host' });
  const files = h('div', { id: 'batch-files-host' });
  const summary = h('div', { id: 'batch-summary-host' });
  const problem = h('div', { id: 'batch-problem' });
  const section = h('section', { class: 'batch-progress', id: 'batch-progress-section', 'aria-labelledby': 'batch-progress-title' }, h('h2', { id: 'batch-progress-title', class: 'visually-hidden', text: 'Progress' }), bar, text);
  main.replaceChildren(
    h('div', { class: 'row-head' }, h('h1', { id: 'batch-title', text: 'Batch' }), h('a', { href: '#/batch', class: 'button', id: 'batch-new', text: 'New batch' })),
    section,
    problem,
    failures,
    summary,
    files,
  );
  for (let i = 0; ; i++) {
    /** @type {BatchState} */
    let st;
    try {
      st = await api.batch(id);
    } catch (e) {
      if (run !== pollRun) return;
      const body = e instanceof api.ApiError ? e.body : null;
      if (body && body.progress) paintProgress(body);
      problem.replaceChildren(errorBox(e instanceof api.ApiError && e.status === 422 ? `No summary: ${errText(e)}.` : e));
      if (!body?.progress) text.textContent = '';
      return;
    }
    if (run !== pollRun || !main.isConnected) return;
    paintProgress(st);
    if (st.status !== 'running' && st.summary) {
      summary.replaceChildren(summaryView(st.summary, st));
      return;
    }
    await new Promise((r) => setTimeout(r, Math.min(1500, 300 + i * 150)));
    if (run !== pollRun) return;
  }

  /** @param {BatchState} st */
  function paintProgress(st) {
    const { done, total, failed, compare, jobs } = st.progress;
    // The bar counts every job (parses, then the comparisons they start) when the
    // server reports them; the words keep files and comparisons apart.
    bar.max = Math.max(1, jobs?.total ?? total);
    bar.value = jobs?.done ?? done;
    const comparing = compare && compare.total > 0 && done >= total;
    const state = st.status === 'running' ? (comparing ? 'comparing…' : 'parsing…') : st.status === 'failed' ? 'stopped.' : 'finished.';
    const cmp = compare && compare.total > 0 ? `; ${fmtInt(compare.done)} of ${fmtInt(compare.total)} comparisons` : '';
    text.textContent = `${fmtInt(done)} of ${fmtInt(total)} done${failed ? `, ${fmtInt(failed)} failed` : ''}${cmp} — ${state}`;
    section.dataset.status = st.status;
    failures.replaceChildren(
      ...(st.failures.length === 0
        ? []
        : [
            h('h2', { id: 'batch-failures-title', text: `Files that could not be read (${st.failures.length})` }),
            h('ul', { id: 'batch-failures', class: 'batch-failures', 'aria-labelledby': 'batch-failures-title' },
              ...st.failures.map((f) => h('li', { 'data-name': f.name }, h('strong', { text: f.name }), ` (${f.role}): `, h('span', { class: 'batch-failure-error', text: f.error })))),
            h('p', { class: 'muted', text: st.status === 'running' ? 'The other files go on.' : 'The summary leaves them out.' }),
          ]),
    );
    files.replaceChildren(
      h('details', { id: 'batch-file-status' },
        h('summary', { text: `Files (${st.profiles.length})` }),
        scroller('Files of the batch',
          h('table', { class: 'grid compact' },
            h('caption', { class: 'visually-hidden', text: 'Each file of the batch with its role and parse status' }),
            h('thead', {}, h('tr', {}, ...['File', 'Role', 'Status'].map((t) => h('th', { scope: 'col', text: t })))),
            h('tbody', {}, ...st.profiles.map((p) => h('tr', { 'data-name': p.name },
              h('th', { scope: 'row' }, p.status === 'ready' ? h('a', { href: `#/profile/${p.id}`, text: p.name }) : p.name),
              h('td', { text: p.role }),
              h('td', { class: `status status-${p.status}`, text: p.status }))))))),
    );
  }
}

/**
 * The finished batch.
 * @param {BatchSummary} s
 * @param {BatchState} st
 */
function summaryView(s, st) {
  const g = s.groups;
  const nb = g.baseline.runs.length;
  const nc = g.candidate.runs.length;
  const repeated = nb > 1 || nc > 1;
  const tot = g.total_time;
  const cls = (/** @type {number} */ d) => (d > 0 ? 'slower' : d < 0 ? 'faster' : '');
  const wrap = h('section', { id: 'batch-summary', 'aria-labelledby': 'batch-summary-title' });
  wrap.append(h('h2', { id: 'batch-summary-title', text: 'Summary' }));

  wrap.append(
    h('div', { class: 'cards', id: 'batch-cards' },
      card('Baseline total', fmtTime(s.baseline_total_time), nb > 1 ? `median of ${nb} runs` : g.baseline.runs[0] ?? '', '', 'card-baseline'),
      card('Candidates', fmtInt(s.candidates.length), `${fmtInt(nc)} run${nc === 1 ? '' : 's'} parsed`, '', 'card-candidates'),
      card('Δ median total', fmtDelta(tot.delta_median), fmtPct(tot.percent), cls(tot.delta_median), 'card-delta'),
      repeated && tot.test ? card('Significant?', tot.verdict === 'noise' ? 'no' : 'yes', `p ${fmtP(tot.test.p_value)} at α ${g.alpha}`, tot.verdict === 'slower' ? 'slower' : tot.verdict === 'faster' ? 'faster' : '', 'card-significant') : null),
  );

  // Each candidate against the baseline median; link a pair to the two-profile view.
  const ready = st.profiles.filter((p) => p.status === 'ready');
  // Each candidate was compared with the reference baseline run (the median one); its
  // comparison is already stored, so the link opens it instead of starting another.
  const baseId = st.reference_baseline ?? ready.find((p) => p.role === 'baseline')?.id;
  const cands = ready.filter((p) => p.role === 'candidate');
  // The summary lists the candidates that parsed, in upload order; if a profile was
  // deleted since, the two lists no longer line up and no link is better than a wrong one.
  const linkable = cands.length === s.candidates.length;
  /** @param {number} i */
  const pairLink = (i) => {
    const c = cands[i];
    return `#/compare?b=${baseId}&c=${c.id}${c.comparison_id ? `&cmp=${c.comparison_id}` : ''}`;
  };
  wrap.append(
    h('h3', { id: 'batch-candidates-title', text: 'Candidates' }),
    scroller('Candidates',
      h('table', { class: 'grid', id: 'batch-candidates' },
        h('caption', { text: `Total time of each candidate against the baseline${nb > 1 ? ` median of ${nb} runs` : ''} (${fmtTime(s.baseline_total_time)}); red is slower, blue is faster` }),
        h('thead', {}, h('tr', {}, ...['Candidate', 'Total time', 'Δ vs baseline', 'Δ %', 'Details'].map((t, i) => h('th', { scope: 'col', class: i > 0 && i < 4 ? 'num' : '', text: t })))),
        h('tbody', {}, ...s.candidates.map((c, i) => h('tr', { class: cls(c.delta), 'data-name': c.name },
          h('th', { scope: 'row', class: 'fn-cell', text: c.name }),
          h('td', { class: 'num', text: fmtTime(c.total_time) }),
          h('td', { class: 'num delta', text: fmtDelta(c.delta) }),
          h('td', { class: 'num', text: fmtPct(c.percent) }),
          h('td', {}, baseId && linkable ? h('a', { href: pairLink(i), 'aria-label': `Compare ${c.name} with the baseline`, text: 'Compare' }) : '–')))))),
  );

  wrap.append(
    h('h3', { id: 'batch-trend-title', text: 'Total time per run' }),
    h('div', { class: 'batch-trend', id: 'batch-total-trend' },
      sparkline(tot.baseline.values, tot.candidate.values, 'Total time', { width: 240, height: 48 }),
      h('p', { class: 'legend' }, h('span', { class: 'swatch swatch-base' }), ` baseline (${nb} run${nb === 1 ? '' : 's'}) `, h('span', { class: 'swatch swatch-cand' }), ` candidates (${nc} run${nc === 1 ? '' : 's'}), in upload order`)),
  );

  if (repeated) wrap.append(statsTable(tot, g.alpha, nb, nc));

  wrap.append(
    functionTable('batch-regressions', 'Top regressions', 'Functions whose own time rose most (median across runs)', s.top_regressions, repeated, g.alpha),
    functionTable('batch-improvements', 'Top improvements', 'Functions whose own time fell most (median across runs)', s.top_improvements, repeated, g.alpha),
  );
  return wrap;
}

/**
 * A table that scrolls sideways inside its own box on a narrow screen; focusable so the
 * keyboard can scroll it too.
 * @param {string} label @param {HTMLElement} table
 */
function scroller(label, table) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': label }, table);
}

/**
 * @param {string} label @param {string} value @param {string} sub @param {string} cls @param {string} id
 */
function card(label, value, sub, cls, id) {
  return h('div', { class: `card ${cls}`, id }, h('span', { class: 'card-label', text: label }), h('span', { class: 'card-value', text: value }), h('span', { class: 'card-sub', text: sub }));
}

/**
 * Repeated runs: the spread of each side's total time and the test between them.
 * @param {GroupDiff} t @param {number} alpha @param {number} nb @param {number} nc
 */
function statsTable(t, alpha, nb, nc) {
  const row = (/** @type {string} */ side, /** @type {import('./api.js').Spread} */ sp, /** @type {number} */ n) =>
    h('tr', { 'data-side': side },
      h('th', { scope: 'row', text: side === 'baseline' ? 'Baseline' : 'Candidates' }),
      h('td', { class: 'num', text: fmtInt(n) }),
      h('td', { class: 'num', text: fmtTime(sp.median) }),
      h('td', { class: 'num', text: fmtTime(sp.iqr) }),
      h('td', { class: 'num', text: fmtTime(sp.mad) }),
      h('td', { class: 'num', text: `${fmtTime(sp.min)} – ${fmtTime(sp.max)}` }));
  const test = t.test;
  return h('section', { id: 'batch-stats', 'aria-labelledby': 'batch-stats-title' },
    h('h3', { id: 'batch-stats-title', text: 'Repeated runs: total time' }),
    scroller('Spread of the total time',
      h('table', { class: 'grid', id: 'batch-stats-table' },
        h('caption', { text: 'Spread of the total time on each side' }),
        h('thead', {}, h('tr', {}, ...['Side', 'Runs', 'Median', 'IQR', 'MAD', 'Min – max'].map((x, i) => h('th', { scope: 'col', class: i ? 'num' : '', text: x })))),
        h('tbody', {}, row('baseline', t.baseline, nb), row('candidate', t.candidate, nc)))),
    h('dl', { class: 'stats', id: 'batch-test' },
      h('dt', { text: 'Δ median' }), h('dd', { 'data-k': 'delta', text: `${fmtDelta(t.delta_median)} (${fmtPct(t.percent)})` }),
      h('dt', { text: 'p-value (Mann-Whitney U, two-sided)' }), h('dd', { 'data-k': 'p', text: test ? `${fmtP(test.p_value)} (${test.method})` : 'not computed' }),
      h('dt', { text: "Effect size (Cliff's δ, +1 = every candidate run slower)" }), h('dd', { 'data-k': 'effect', text: fmtEffect(test?.effect) }),
      h('dt', { text: `Significant at α = ${alpha}` }), h('dd', { 'data-k': 'significant', text: t.verdict === 'noise' ? 'no' : `yes (${t.verdict})` })));
}

/**
 * Top regressions or improvements with their per-run trend.
 * @param {string} id @param {string} title @param {string} caption
 * @param {FunctionGroupDiff[]} rows @param {boolean} repeated @param {number} alpha
 */
function functionTable(id, title, caption, rows, repeated, alpha) {
  // The trend right after the name: on a narrow screen it is seen before scrolling.
  const head = ['Function', 'Own time per run', 'Baseline median', 'Candidate median', 'Δ median', 'Δ %', ...(repeated ? ['p-value', 'Effect', 'Significant?'] : [])];
  const body = rows.map((f) =>
    h('tr', { class: f.delta_median > 0 ? 'slower' : f.delta_median < 0 ? 'faster' : '', 'data-name': f.name, 'data-file': f.file, 'data-line': String(f.line) },
      h('th', { scope: 'row', class: 'fn-cell', title: funcLabel(f.file, f.line, f.name), text: shortLabel(f.file, f.line, f.name) }),
      h('td', { class: 'spark-cell' }, sparkline(f.baseline.values, f.candidate.values, `Own time of ${shortLabel(f.file, f.line, f.name)}`)),
      h('td', { class: 'num', text: fmtTime(f.baseline.median) }),
      h('td', { class: 'num', text: fmtTime(f.candidate.median) }),
      h('td', { class: 'num delta', text: fmtDelta(f.delta_median) }),
      h('td', { class: 'num', text: fmtPct(f.percent) }),
      ...(repeated
        ? [h('td', { class: 'num', text: fmtP(f.test?.p_value) }), h('td', { class: 'num', text: fmtEffect(f.test?.effect) }), h('td', { text: f.verdict === 'noise' ? 'no' : 'yes' })]
        : [])));
  return h('section', { id: `${id}-section`, 'aria-labelledby': `${id}-title` },
    h('h3', { id: `${id}-title`, text: title }),
    rows.length === 0
      ? h('p', { class: 'muted', id, text: 'None.' })
      : scroller(title,
          h('table', { class: 'grid', id },
            h('caption', { text: repeated ? `${caption}; p-value of the Mann-Whitney U test, effect as Cliff's δ, significant at α = ${alpha}` : caption }),
            h('thead', {}, h('tr', {}, ...head.map((t, i) => h('th', { scope: 'col', class: i > 1 && !t.startsWith('Significant') ? 'num' : '', text: t })))),
            h('tbody', {}, ...body))));
}

/**
 * A small line of one value per run, baseline runs then candidate runs, with a divider
 * between them. Drawn with SVG attributes only (the CSP forbids inline style).
 * @param {number[]} base @param {number[]} cand @param {string} what
 * @param {{width: number, height: number}} [size]
 * @returns {SVGSVGElement}
 */
export function sparkline(base, cand, what, size = { width: 120, height: 28 }) {
  const { width: w, height: ht } = size;
  const pad = 3;
  const all = [...base, ...cand];
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const n = all.length;
  const x = (/** @type {number} */ i) => (n <= 1 ? w / 2 : pad + (i * (w - 2 * pad)) / (n - 1));
  const y = (/** @type {number} */ v) => (hi === lo ? ht / 2 : ht - pad - ((v - lo) * (ht - 2 * pad)) / (hi - lo));
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG, 'svg'));
  const attrs = (/** @type {Element} */ el, /** @type {Record<string, string|number>} */ a) => {
    for (const [k, v] of Object.entries(a)) el.setAttribute(k, String(v));
    return el;
  };
  const label = `${what}: baseline ${base.map(fmtTime).join(', ') || 'none'}; candidates ${cand.map(fmtTime).join(', ') || 'none'}`;
  attrs(svg, { viewBox: `0 0 ${w} ${ht}`, width: w, height: ht, class: 'spark', role: 'img', 'aria-label': label, 'data-points': n });
  const title = document.createElementNS(SVG, 'title');
  title.textContent = label;
  svg.append(title);
  if (base.length && cand.length) {
    const mid = (x(base.length - 1) + x(base.length)) / 2;
    svg.append(attrs(document.createElementNS(SVG, 'line'), { x1: mid, x2: mid, y1: 0, y2: ht, class: 'spark-split' }));
  }
  if (n > 1) svg.append(attrs(document.createElementNS(SVG, 'polyline'), { points: all.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '), class: 'spark-line' }));
  all.forEach((v, i) => svg.append(attrs(document.createElementNS(SVG, 'circle'), { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5, class: i < base.length ? 'spark-base' : 'spark-cand' })));
  return svg;
}
