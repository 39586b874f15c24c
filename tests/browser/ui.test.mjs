// Browser tests of the profdiff UI: the real `target/debug/profdiff serve` (built by
// `cargo test` before) on a random port, its own Redis key prefix and data dir, driven
// by Debian's Chromium through playwright-core. Run: `npm test` in tests/browser.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.PROFDIFF_BIN ?? join(ROOT, 'target', 'debug', 'profdiff');
const FIX = join(ROOT, 'tests', 'fixtures');
const SHOTS = join(ROOT, 'target', 'ui-screenshots');
const REDIS_URL = process.env.PROFDIFF_TEST_REDIS ?? 'redis://127.0.0.1:6379/';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** @type {import('node:child_process').ChildProcess} */
let server;
let base = '';
const prefix = `pdui:${randomUUID().replace(/-/g, '')}:`;
const dataDir = mkdtempSync(join(tmpdir(), 'profdiff-ui-'));
/** @type {import('playwright-core').Browser} */
let browser;
/** Console errors and page errors of every page, checked after each test. @type {string[]} */
let consoleErrors = [];

/**
 * Starts `profdiff serve` on a random port with its own Redis key prefix and data dir.
 * @param {string} keyPrefix
 * @param {string} dir
 * @param {Record<string, string>} [extraEnv]
 * @returns {Promise<{proc: import('node:child_process').ChildProcess, url: string}>}
 */
function spawnServer(keyPrefix, dir, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--bind', '127.0.0.1:0'], {
      env: {
        ...process.env,
        REDIS_URL,
        REDIS_PREFIX: keyPrefix,
        DATA_DIR: dir,
        JANITOR_INTERVAL_SECS: '0',
        RUST_LOG: 'warn',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => reject(new Error('profdiff did not start within 30 s')), 30_000);
    let buf = '';
    let url = '';
    proc.stdout?.on('data', (d) => {
      buf += d;
      const m = buf.match(/profdiff listening on (http:\/\/\S+)/);
      if (m && !url) {
        url = m[1];
        clearTimeout(timer);
        resolve({ proc, url });
      }
    });
    proc.on('exit', (code) => {
      if (!url) reject(new Error(`profdiff exited early with ${code}`));
    });
  });
}

async function startServer() {
  const s = await spawnServer(prefix, dataDir);
  server = s.proc;
  base = s.url;
}

/** SIGTERM, then SIGKILL after 10 s. @param {import('node:child_process').ChildProcess} proc */
async function stopServer(proc) {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

function deleteKeys(keyPrefix = prefix) {
  try {
    const keys = execFileSync('redis-cli', ['-u', REDIS_URL, '--scan', '--pattern', `${keyPrefix}*`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    for (let i = 0; i < keys.length; i += 200) execFileSync('redis-cli', ['-u', REDIS_URL, 'del', ...keys.slice(i, i + 200)]);
  } catch (e) {
    console.error(`could not delete test keys: ${e}`);
  }
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  assert.ok(existsSync(BIN), `${BIN} missing: run cargo build first`);
  await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
  deleteKeys();
  rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => {
  const errs = consoleErrors;
  consoleErrors = [];
  assert.deepEqual(errs, [], 'no console errors');
});

/** A fresh browser context (own cookies = own session) and page. */
async function newPage(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${m.text()} @ ${m.location().url}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  await page.goto(base + '/');
  await page.waitForSelector('#dropzone');
  return { context, page };
}

/** @param {import('playwright-core').Page} page @param {string[]} names */
async function uploadViaPicker(page, names) {
  await page.setInputFiles('#file-input', names.map((n) => join(FIX, n)));
}

/** Drops files on the drop zone the way a drag from the desktop does. */
async function uploadViaDrop(/** @type {import('playwright-core').Page} */ page, /** @type {string[]} */ names) {
  const files = names.map((n) => ({ name: n.split('/').pop(), bytes: [...readFileSync(join(FIX, n))] }));
  const dt = await page.evaluateHandle((fs) => {
    const d = new DataTransfer();
    for (const f of fs) d.items.add(new File([new Uint8Array(f.bytes)], f.name));
    return d;
  }, files);
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
}

/** @param {import('playwright-core').Page} page @param {string} name @param {string} state */
async function waitUpload(page, name, state) {
  await page.waitForSelector(`li.upload[data-name="${name}"][data-state="${state}"]`, { timeout: 30_000 });
}

test('two sessions never see each other\'s profiles', async () => {
  const a = await newPage();
  const b = await newPage();
  await uploadViaPicker(a.page, ['textpipe_before.prof']);
  await uploadViaPicker(b.page, ['recursion_before.prof']);
  await waitUpload(a.page, 'textpipe_before.prof', 'done');
  await waitUpload(b.page, 'recursion_before.prof', 'done');
  await a.page.waitForSelector('#profiles-table tr[data-status="ready"]');
  await b.page.waitForSelector('#profiles-table tr[data-status="ready"]');
  const namesA = await a.page.$$eval('#profiles-table tbody th', (ths) => ths.map((t) => t.textContent));
  const namesB = await b.page.$$eval('#profiles-table tbody th', (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(namesA, ['textpipe_before.prof']);
  assert.deepEqual(namesB, ['recursion_before.prof']);
  // A's profile id is unknown to B, even through the API.
  const idA = await a.page.getAttribute('#profiles-table tbody tr', 'data-id');
  const status = await b.page.evaluate(async (id) => (await fetch(`/api/profiles/${id}/graph`)).status, idA);
  assert.equal(status, 404);
  // That fetch logged a 404 on purpose; it is not a UI error.
  consoleErrors = consoleErrors.filter((e) => !e.includes('404'));
  await a.context.close();
  await b.context.close();
});

test('textpipe pair: progress, both ready, comparison table, sort, filter, flame graph', async () => {
  const expected = JSON.parse(readFileSync(join(FIX, 'expected', 'textpipe.expected.json'), 'utf8'));
  const { context, page } = await newPage();
  await uploadViaPicker(page, ['textpipe_before.prof']);
  await waitUpload(page, 'textpipe_before.prof', 'done');
  await uploadViaPicker(page, ['textpipe_after.prof']);
  // Each upload has a progress bar that ends full.
  assert.equal(await page.locator('li.upload progress').count(), 2);
  await waitUpload(page, 'textpipe_after.prof', 'done');
  const full = await page.$$eval('li.upload progress', (ps) => ps.map((p) => /** @type {HTMLProgressElement} */ (p).value));
  assert.deepEqual(full, [1, 1]);
  await page.waitForSelector('#compare-recent');
  assert.equal(await page.locator('#profiles-table tr[data-status="ready"]').count(), 2);
  await page.screenshot({ path: join(SHOTS, 'upload.png'), fullPage: true });

  await page.click('#compare-recent');
  await page.waitForSelector('#cmp-table tbody tr', { timeout: 30_000 });
  const first = await page.getAttribute('#cmp-table tbody tr', 'data-name');
  assert.equal(first, expected.functions[0].name);
  assert.match((await page.textContent('#cards')) ?? '', /Speed-up/);
  const total = expected.functions.length;
  assert.match((await page.textContent('#row-count')) ?? '', new RegExp(`of ${total}$`));
  await page.screenshot({ path: join(SHOTS, 'compare.png') });

  // Exports: the whole comparison as profdiff.comparison/v1 JSON and as CSV.
  const exported = await page.evaluate(async () => {
    const j = await (await fetch(/** @type {HTMLAnchorElement} */ (document.querySelector('#export-json')).href)).json();
    const c = await (await fetch(/** @type {HTMLAnchorElement} */ (document.querySelector('#export-csv')).href)).text();
    return { schema: j.schema, rows: j.functions.length, first: j.functions[0].name, csvLines: c.trim().split('\n').length };
  });
  assert.deepEqual(exported, { schema: 'profdiff.comparison/v1', rows: total, first: expected.functions[0].name, csvLines: total + 1 });

  // Keyboard: the sort buttons are reachable and work with Enter.
  await page.focus('button[data-sort="name"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('th[aria-sort="ascending"] button[data-sort="name"]');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-sort')), 'name');
  await page.click('button[data-sort="delta_tt"]');
  await page.waitForSelector('th[aria-sort="descending"] button[data-sort="delta_tt"]');

  // Sort by name: ascending, then descending.
  const names = async () => page.$$eval('#cmp-table tbody tr', (trs) => trs.map((t) => t.getAttribute('data-name') ?? ''));
  await page.click('button[data-sort="name"]');
  await page.waitForSelector('th[aria-sort="ascending"] button[data-sort="name"]');
  const asc = await names();
  const allNames = expected.functions.map((/** @type {any} */ f) => f.name).sort();
  assert.deepEqual(asc, allNames.slice(0, asc.length));
  await page.click('button[data-sort="name"]');
  await page.waitForSelector('th[aria-sort="descending"] button[data-sort="name"]');
  const desc = await names();
  assert.deepEqual(desc, allNames.slice().reverse().slice(0, desc.length));

  // Every column sorts on the server (a refused key would log a 400 console error).
  for (const key of await page.$$eval('#cmp-table button[data-sort]', (bs) => bs.map((b) => b.getAttribute('data-sort')))) {
    await page.click(`button[data-sort="${key}"]`);
    await page.waitForSelector(`th:not([aria-sort="none"]) button[data-sort="${key}"]`);
  }
  // Δ own time ascending: the biggest improvement first.
  await page.click('button[data-sort="delta_tt"]');
  await page.waitForSelector('th[aria-sort="descending"] button[data-sort="delta_tt"]');
  await page.click('button[data-sort="delta_tt"]');
  await page.waitForSelector('th[aria-sort="ascending"] button[data-sort="delta_tt"]');
  const fastest = expected.functions.reduce((/** @type {any} */ a, /** @type {any} */ f) => (f.delta.tt < a.delta.tt ? f : a));
  assert.equal(await page.getAttribute('#cmp-table tbody tr', 'data-name'), fastest.name);

  // Status filter: only added functions.
  const added = expected.functions.filter((/** @type {any} */ f) => f.status === 'added').length;
  await page.selectOption('#status-filter', 'added');
  await page.waitForFunction((n) => document.querySelector('#row-count')?.textContent?.endsWith(`of ${n}`), added);
  const statuses = await page.$$eval('#cmp-table tbody tr', (trs) => trs.map((t) => t.getAttribute('data-status')));
  assert.deepEqual(statuses, Array(added).fill('added'));
  await page.selectOption('#status-filter', '');

  // Filter: only matching rows, and the count says how many.
  const want = expected.functions.filter((/** @type {any} */ f) => f.name.includes('normalize') || f.file.includes('normalize'));
  assert.ok(want.length > 0);
  await page.fill('#filter', 'normalize');
  await page.waitForFunction((n) => document.querySelector('#row-count')?.textContent?.endsWith(`of ${n}`), want.length);
  const filtered = await names();
  assert.deepEqual(filtered.slice().sort(), want.map((/** @type {any} */ f) => f.name).sort());

  // Callers and callees of one function, both sides.
  await page.click('#cmp-table tbody tr th button');
  await page.waitForSelector('#detail table[data-dir="callers"]');

  // The flame graph draws blocks and highlights a search.
  await page.click('#tab-flame');
  await page.waitForSelector('#flame .fg-node');
  const blocks = Number(await page.getAttribute('#flame', 'data-blocks'));
  assert.ok(blocks > 3, `flame graph has ${blocks} blocks`);
  await page.fill('#flame-search', 'textpipe.py');
  await page.waitForFunction(() => Number(document.querySelector('#flame')?.getAttribute('data-matches')) > 0);
  await page.screenshot({ path: join(SHOTS, 'flame.png'), fullPage: true });
  // Zoom in and come back through the breadcrumb.
  await page.click('#flame .fg-node:nth-child(2)');
  await page.waitForSelector('.fg-crumb');
  await page.click('.fg-crumb');
  await page.waitForFunction(() => !document.querySelector('.fg-crumb'));

  // The URL reopens the same view.
  const url = page.url();
  assert.match(url, /#\/compare\?.*cmp=/);
  const again = await context.newPage();
  again.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  await again.goto(url);
  await again.waitForSelector('#flame .fg-node');

  // One profile, pstats style.
  await page.goto(`${base}/#/`);
  await page.click('#profiles-table tbody tr a');
  await page.waitForSelector('#profile-table tbody tr');
  await page.screenshot({ path: join(SHOTS, 'profile.png') });
  await page.click('#ptab-flame');
  await page.waitForSelector('#flame .fg-node');
  assert.ok(Number(await page.getAttribute('#flame', 'data-blocks')) > 3);
  await page.screenshot({ path: join(SHOTS, 'profile-icicle.png') });
  await page.click('#ptab-table');
  // pstats columns, sortable.
  const heads = await page.$$eval('#profile-table thead th', (ths) => ths.map((t) => t.textContent?.replace(/[▲▼]/g, '').trim()));
  assert.deepEqual(heads, ['ncalls', 'tottime', 'percall', 'cumtime', 'percall', 'filename:lineno(function)']);
  await page.click('#profile-table button[data-sort="ct"]');
  const cts = await page.$$eval('#profile-table tbody tr td:nth-child(4)', (tds) => tds.map((t) => Number(t.textContent)));
  assert.ok(cts.length > 10);
  assert.deepEqual(cts, cts.slice().sort((x, y) => y - x));
  await context.close();
});

test('a bad file shows its error while a good one in the same drop succeeds', async () => {
  const { context, page } = await newPage();
  await uploadViaDrop(page, ['bad/random_bytes.prof', 'stdlibmix_before.prof']);
  await waitUpload(page, 'random_bytes.prof', 'failed');
  await waitUpload(page, 'stdlibmix_before.prof', 'done');
  const msg = (await page.textContent('li.upload[data-name="random_bytes.prof"] .upload-status')) ?? '';
  assert.match(msg, /Could not read this file: \S+/);
  await page.waitForSelector('#profiles-table tr[data-status="failed"]');
  await page.waitForSelector('#profiles-table tr[data-status="ready"]');
  await page.screenshot({ path: join(SHOTS, 'upload-error.png') });
  await context.close();
});

test('wrong file type and too big in plain words; delete one; clear all after confirmation', async () => {
  const { context, page } = await newPage();
  await uploadViaPicker(page, ['README.md', 'recursion_before.prof', 'recursion_after.prof']);
  await waitUpload(page, 'README.md', 'failed');
  assert.match((await page.textContent('li.upload[data-name="README.md"] .upload-status')) ?? '', /Not a profile file/);
  // Over the size limit (16 MiB by default): refused, in words.
  const big = join(dataDir, 'big.prof');
  writeFileSync(big, Buffer.alloc(17 * 1024 * 1024, 7));
  await page.setInputFiles('#file-input', [big]);
  await waitUpload(page, 'big.prof', 'failed');
  assert.match((await page.textContent('li.upload[data-name="big.prof"] .upload-status')) ?? '', /File too big: the server accepts at most 16\.0 MiB/);
  // The refusals are HTTP 415/413 the browser logs by itself; the UI said them in words.
  consoleErrors = consoleErrors.filter((e) => !e.includes('415') && !e.includes('413'));
  await waitUpload(page, 'recursion_before.prof', 'done');
  await waitUpload(page, 'recursion_after.prof', 'done');
  await page.waitForFunction(() => document.querySelectorAll('#profiles-table tbody tr').length === 2);
  await page.click('#profiles-table tbody tr:first-child button');
  await page.waitForFunction(() => document.querySelectorAll('#profiles-table tbody tr').length === 1);
  // The panel refreshes on its own request after the table; wait for it rather than race it.
  await page.waitForFunction(() => /1 profile,/.test(document.getElementById('session')?.textContent ?? ''), null, { timeout: 5_000 });
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    d.accept();
  });
  await page.click('#clear-all');
  await page.waitForSelector('#profiles-table', { state: 'detached' });
  assert.match(asked, /Delete all 1 profile and/);
  const left = await page.evaluate(async () => (await (await fetch('/api/profiles')).json()).profiles.length);
  assert.equal(left, 0);
  await context.close();
});

test('storage down: "service busy, retrying" until it answers again', async () => {
  const { context, page } = await newPage();
  let refused = 0;
  // The first answers are what the service sends while Redis is unreachable.
  await page.route('**/api/profiles', async (route) => {
    if (refused < 2) {
      refused++;
      await route.fulfill({ status: 503, contentType: 'application/json', headers: { 'retry-after': '1' }, body: JSON.stringify({ error: { code: 'unavailable', message: 'storage unavailable' } }) });
    } else await route.continue();
  });
  await page.goto(base + '/#/compare');
  await page.waitForSelector('#banner:not([hidden])');
  assert.match((await page.textContent('#banner')) ?? '', /busy.*retrying/i);
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 15_000 });
  await page.waitForSelector('main >> text=Upload at least two profiles first');
  consoleErrors = consoleErrors.filter((e) => !e.includes('503'));
  await context.close();
});

test('375 px wide: no horizontal scrolling', async () => {
  const { context, page } = await newPage({ width: 375, height: 800 });
  await uploadViaPicker(page, ['textpipe_before.prof', 'textpipe_after.prof']);
  await waitUpload(page, 'textpipe_before.prof', 'done');
  await waitUpload(page, 'textpipe_after.prof', 'done');
  await page.waitForSelector('#compare-recent');
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(await overflow(), 0, 'home view scrolls sideways');
  await page.screenshot({ path: join(SHOTS, 'narrow-upload.png') });
  await page.click('#compare-recent');
  await page.waitForSelector('#cmp-table tbody tr', { timeout: 30_000 });
  assert.equal(await overflow(), 0, 'compare view scrolls sideways');
  await page.screenshot({ path: join(SHOTS, 'narrow-compare.png') });
  await page.click('#tab-flame');
  await page.waitForSelector('#flame .fg-node');
  assert.equal(await overflow(), 0, 'flame view scrolls sideways');
  await page.screenshot({ path: join(SHOTS, 'narrow-flame.png') });
  await context.close();
});

test('accessibility: axe finds no WCAG 2 A/AA violations in the main views', async () => {
  // axe is injected as a script, which the page's own CSP rightly forbids: bypass it
  // for this context only.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  const audit = async (/** @type {string} */ view) => assert.deepEqual(await axeViolations(page), [], `axe violations in the ${view} view`);
  await page.goto(base + '/');
  await page.waitForSelector('#dropzone');
  await page.setInputFiles('#file-input', [join(FIX, 'textpipe_before.prof'), join(FIX, 'textpipe_after.prof'), join(FIX, 'bad', 'random_bytes.prof')]);
  await waitUpload(page, 'random_bytes.prof', 'failed');
  await waitUpload(page, 'textpipe_before.prof', 'done');
  await waitUpload(page, 'textpipe_after.prof', 'done');
  await page.waitForSelector('#compare-recent');
  await audit('upload');
  await page.click('#compare-recent');
  await page.waitForSelector('#cmp-table tbody tr', { timeout: 30_000 });
  await page.click('#cmp-table tbody tr th button');
  await page.waitForSelector('#detail table');
  await audit('compare');
  await page.click('#tab-flame');
  await page.waitForSelector('#flame .fg-node');
  await audit('flame');
  await page.goto(base + '/#/');
  await page.click('#profiles-table tbody tr a');
  await page.waitForSelector('#profile-table tbody tr');
  await audit('profile');
  await context.close();
});

/** Rows of a table as arrays of cell texts (header cell included). @param {import('playwright-core').Page} page @param {string} sel */
function tableRows(page, sel) {
  // A sparkline cell's text is its SVG title: '' stands for it.
  return page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => (c.querySelector('svg') ? '' : (c.textContent ?? '').trim()))));
}

/**
 * What the batch page should show, computed in the page from GET /api/batches/{id} with
 * the UI's own number formatters (so a wrong field, order or rounding shows up).
 * @param {import('playwright-core').Page} page @param {string} id
 */
function expectedBatch(page, id) {
  return page.evaluate(async (bid) => {
    /** @type {any} */
    const u = await import('/assets/util.js');
    const r = await (await fetch(`/api/batches/${bid}`)).json();
    const s = r.summary;
    const repeated = s.groups.baseline.runs.length > 1 || s.groups.candidate.runs.length > 1;
    const fn = (/** @type {any} */ f) => [
      u.shortLabel(f.file, f.line, f.name),
      '',
      u.fmtTime(f.baseline.median),
      u.fmtTime(f.candidate.median),
      u.fmtDelta(f.delta_median),
      u.fmtPct(f.percent),
      ...(repeated ? [u.fmtP(f.test?.p_value), u.fmtEffect(f.test?.effect), f.verdict === 'noise' ? 'no' : 'yes'] : []),
    ];
    const t = s.groups.total_time;
    return {
      status: r.status,
      progress: r.progress,
      failures: r.failures.map((/** @type {any} */ f) => [f.name, f.error]),
      runs: s.groups.baseline.runs.length + s.groups.candidate.runs.length,
      baseline: u.fmtTime(s.baseline_total_time),
      candidates: s.candidates.map((/** @type {any} */ c) => [c.name, u.fmtTime(c.total_time), u.fmtDelta(c.delta), u.fmtPct(c.percent), 'Compare']),
      regressions: s.top_regressions.map(fn),
      improvements: s.top_improvements.map(fn),
      stats: [
        ['Baseline', String(s.groups.baseline.runs.length), u.fmtTime(t.baseline.median), u.fmtTime(t.baseline.iqr), u.fmtTime(t.baseline.mad), `${u.fmtTime(t.baseline.min)} – ${u.fmtTime(t.baseline.max)}`],
        ['Candidates', String(s.groups.candidate.runs.length), u.fmtTime(t.candidate.median), u.fmtTime(t.candidate.iqr), u.fmtTime(t.candidate.mad), `${u.fmtTime(t.candidate.min)} – ${u.fmtTime(t.candidate.max)}`],
      ],
      test: {
        delta: `${u.fmtDelta(t.delta_median)} (${u.fmtPct(t.percent)})`,
        p: `${u.fmtP(t.test.p_value)} (${t.test.method})`,
        effect: u.fmtEffect(t.test.effect),
        significant: t.verdict === 'noise' ? 'no' : `yes (${t.verdict})`,
      },
    };
  }, id);
}

/**
 * A .tar.gz of regular files (ustar headers), for archive uploads.
 * @param {Array<[string, Buffer]>} files
 */
function tarGz(files) {
  /** @type {Buffer[]} */
  const parts = [];
  for (const [name, body] of files) {
    const hdr = Buffer.alloc(512);
    hdr.write(name, 0, 100, 'utf8');
    hdr.write('0000644\0', 100);
    hdr.write('0000000\0', 108);
    hdr.write('0000000\0', 116);
    hdr.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    hdr.write('00000000000\0', 136);
    hdr.write('        ', 148);
    hdr.write('0', 156);
    hdr.write('ustar\0' + '00', 257, 'binary');
    let sum = 0;
    for (const b of hdr) sum += b;
    hdr.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(hdr, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

/** @param {import('playwright-core').Page} page */
const batchId = (page) => /#\/batch\/([0-9a-f]{32})$/.exec(page.url())?.[1] ?? '';

test('batch page: roles, refusals, upload, progress, summary equal to the API, sparklines, bad file, 375 px', async () => {
  const { context, page } = await newPage();
  await page.click('#nav-batch');
  await page.waitForSelector('#batch-dropzone');
  assert.equal(await page.getAttribute('#nav-batch', 'aria-current'), 'page');
  assert.equal(await page.isDisabled('#batch-submit'), true);
  // The baseline is named "before" but is not first; README.md is refused in words.
  await page.setInputFiles('#batch-file-input', ['textpipe_after.prof', 'textpipe_before.prof', 'textpipe_pyprof_after.prof', 'bad/random_bytes.prof', 'README.md'].map((n) => join(FIX, n)));
  await page.waitForSelector('#batch-files li[data-name="random_bytes.prof"]');
  // Dropped files join the list too.
  const dt = await page.evaluateHandle((bytes) => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(bytes)], 'recursion_after.prof'));
    return d;
  }, [...readFileSync(join(FIX, 'recursion_after.prof'))]);
  await page.dispatchEvent('#batch-dropzone', 'drop', { dataTransfer: dt });
  await page.waitForSelector('#batch-files li[data-name="recursion_after.prof"]');
  assert.match((await page.textContent('#batch-refused li[data-name="README.md"]')) ?? '', /not a profile dump/);
  const roles = () => page.$$eval('#batch-files li', (lis) => lis.map((li) => [li.getAttribute('data-name'), li.getAttribute('data-role')]));
  assert.deepEqual(await roles(), [
    ['textpipe_after.prof', 'candidate'],
    ['textpipe_before.prof', 'baseline'],
    ['textpipe_pyprof_after.prof', 'candidate'],
    ['random_bytes.prof', 'candidate'],
    ['recursion_after.prof', 'candidate'],
  ]);
  // Over the server's limit (16 MiB by default, read from /api/session-info): refused before sending.
  const big = join(dataDir, 'big_batch.prof');
  writeFileSync(big, Buffer.alloc(17 * 1024 * 1024, 7));
  await page.setInputFiles('#batch-file-input', [big]);
  await page.waitForSelector('#batch-refused li[data-name="big_batch.prof"]');
  assert.match((await page.textContent('#batch-refused li[data-name="big_batch.prof"]')) ?? '', /too big \(17\.0 MiB\): the server accepts at most 16\.0 MiB/);
  assert.equal(await page.locator('#batch-files li').count(), 5);
  // Remove one; no baseline left disables the button and says why.
  await page.click('#batch-files li[data-name="recursion_after.prof"] button');
  assert.equal(await page.locator('#batch-files li').count(), 4);
  assert.equal(await page.isEnabled('#batch-submit'), true);
  const roleSelect = '#batch-files li[data-name="textpipe_before.prof"] select';
  await page.selectOption(roleSelect, 'candidate');
  assert.equal(await page.isDisabled('#batch-submit'), true);
  assert.match((await page.textContent('#batch-counts')) ?? '', /Mark at least one file as baseline/);
  await page.selectOption(roleSelect, 'baseline');
  assert.equal(await page.isEnabled('#batch-submit'), true);
  assert.match((await page.textContent('#batch-counts')) ?? '', /^1 baseline, 3 candidates/);
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(await overflow(), 0, 'batch compose view scrolls sideways');
  await page.screenshot({ path: join(SHOTS, 'batch-compose-narrow.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // The upload bar is hidden until sending; record what it shows while the batch goes up.
  assert.equal(await page.isHidden('#batch-upload-progress'), true);
  await page.evaluate(() => {
    const bar = /** @type {HTMLProgressElement} */ (document.getElementById('batch-upload-progress'));
    /** @type {any} */ (window).barSeen = [];
    new MutationObserver(() => /** @type {any} */ (window).barSeen.push([bar.hidden, bar.value])).observe(bar, { attributes: true });
  });
  await page.click('#batch-submit');
  await page.waitForURL(/#\/batch\/[0-9a-f]{32}$/, { timeout: 30_000 });
  const seen = await page.evaluate(() => /** @type {any} */ (window).barSeen);
  assert.ok(seen.some((/** @type {[boolean, number]} */ [hidden, v]) => !hidden && v === 1), `upload bar never full: ${JSON.stringify(seen)}`);
  await page.waitForSelector('#batch-summary', { timeout: 60_000 });
  const id = batchId(page);
  const want = await expectedBatch(page, id);
  assert.equal(want.status, 'done_with_failures');
  const { done, total, failed, compare } = want.progress;
  assert.deepEqual({ done, total, failed }, { done: 4, total: 4, failed: 1 });
  // The failed candidate's comparison fails with it; the two good ones are compared.
  assert.deepEqual(compare, { done: 3, total: 3, failed: 1 });
  assert.match((await page.textContent('#batch-progress-text')) ?? '', /^4 of 4 done, 1 failed; 3 of 3 comparisons — finished/);
  assert.equal(await page.getAttribute('#batch-progress-text', 'aria-live'), 'polite');
  assert.equal(await page.$eval('#batch-progress', (p) => /** @type {HTMLProgressElement} */ (p).value), want.progress.jobs.done);
  // The bad file is reported with the parser's message; the rest made the summary.
  assert.equal(want.failures.length, 1);
  assert.equal(want.failures[0][0], 'random_bytes.prof');
  assert.equal(await page.textContent('#batch-failures li[data-name="random_bytes.prof"] .batch-failure-error'), want.failures[0][1]);
  assert.equal(await page.textContent('#card-baseline .card-value'), want.baseline);
  assert.deepEqual(await tableRows(page, '#batch-candidates'), want.candidates);
  assert.deepEqual(want.candidates.map((/** @type {string[]} */ c) => c[0]), ['textpipe_after.prof', 'textpipe_pyprof_after.prof']);
  assert.ok(want.regressions.length > 0 && want.improvements.length > 0);
  assert.deepEqual(await tableRows(page, '#batch-regressions'), want.regressions);
  assert.deepEqual(await tableRows(page, '#batch-improvements'), want.improvements);
  // One sparkline per function row, one point per parsed run (1 baseline + 2 candidates).
  const sparks = await page.$$eval('#batch-regressions tbody tr, #batch-improvements tbody tr', (trs) => trs.map((tr) => tr.querySelectorAll('svg.spark circle').length));
  assert.deepEqual(sparks, Array(want.regressions.length + want.improvements.length).fill(want.runs));
  assert.equal(want.runs, 3);
  assert.equal(await page.locator('#batch-total-trend svg.spark circle').count(), 3);
  assert.equal(await page.locator('#batch-total-trend svg.spark polyline').count(), 1);
  assert.deepEqual(await page.$$eval('#batch-stats-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => (c.textContent ?? '').trim()))), want.stats);
  await page.screenshot({ path: join(SHOTS, 'batch-summary.png'), fullPage: true });

  // The URL reopens the batch; a pairwise link opens the compare view.
  await page.reload();
  await page.waitForSelector('#batch-summary', { timeout: 30_000 });
  assert.deepEqual(await tableRows(page, '#batch-candidates'), want.candidates);
  await page.setViewportSize({ width: 375, height: 800 });
  assert.equal(await overflow(), 0, 'batch summary scrolls sideways');
  await page.screenshot({ path: join(SHOTS, 'batch-summary-narrow.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  // The link opens the comparison the workers already made against the reference run.
  const raw = await page.evaluate(async (id) => (await fetch(`/api/batches/${id}`)).json(), batchId(page));
  const first = raw.profiles.find((/** @type {any} */ p) => p.role === 'candidate' && p.status === 'ready');
  assert.ok(raw.reference_baseline && first.comparison_id, JSON.stringify(raw));
  assert.equal(await page.getAttribute('#batch-candidates tbody tr:first-child a', 'href'), `#/compare?b=${raw.reference_baseline}&c=${first.id}&cmp=${first.comparison_id}`);
  await page.click('#batch-candidates tbody tr:first-child a');
  await page.waitForSelector('#cmp-table tbody tr', { timeout: 30_000 });
  assert.match(page.url(), new RegExp(`cmp=${first.comparison_id}`));

  // No candidate could be read: the API's 422 in words, with the failure listed.
  await page.goto(`${base}/#/batch`);
  await page.waitForSelector('#batch-dropzone');
  await page.setInputFiles('#batch-file-input', ['textpipe_before.prof', 'bad/random_bytes.prof'].map((n) => join(FIX, n)));
  await page.waitForSelector('#batch-files li[data-name="random_bytes.prof"][data-role="candidate"]');
  await page.click('#batch-submit');
  await page.waitForSelector('#batch-problem .error', { timeout: 60_000 });
  assert.match((await page.textContent('#batch-problem .error')) ?? '', /No summary: no baseline or no candidate dump could be parsed/);
  await page.waitForSelector('#batch-failures li[data-name="random_bytes.prof"]');

  // An archive sorted by folder whose entry is in neither folder: the server's 400 in words.
  await page.goto(`${base}/#/batch`);
  await page.waitForSelector('#batch-dropzone');
  await page.setInputFiles('#batch-file-input', [{ name: 'runs.tar.gz', mimeType: 'application/gzip', buffer: tarGz([['loose.prof', readFileSync(join(FIX, 'textpipe_after.prof'))]]) }]);
  await page.waitForSelector('#batch-files li[data-name="runs.tar.gz"]');
  await page.selectOption('#batch-files li[data-name="runs.tar.gz"] select', 'archive');
  assert.equal(await page.isEnabled('#batch-submit'), true);
  await page.click('#batch-submit');
  await page.waitForSelector('#batch-error .error', { timeout: 30_000 });
  assert.match((await page.textContent('#batch-error .error')) ?? '', /^The batch was not accepted: archive entry "loose\.prof" is in neither a baseline\/ nor a candidate\/ folder/);
  // The list stays for another try.
  assert.equal(await page.isEnabled('#batch-submit'), true);
  // That 422 and 400 are the answers under test; the browser logs them by itself.
  consoleErrors = consoleErrors.filter((e) => !e.includes('422') && !e.includes('400'));
  await context.close();
});

test('batch page, repeated runs: statistics equal the API; axe finds no violations', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${m.text()} @ ${m.location().url}`);
  });
  const audit = async (/** @type {string} */ view) => assert.deepEqual(await axeViolations(page), [], `axe violations in the ${view} view`);
  await page.goto(base + '/#/batch');
  await page.waitForSelector('#batch-dropzone');
  // Three runs a side: the same workload under cProfile, profile and yappi.
  const names = ['textpipe_before.prof', 'textpipe_pyprof_before.prof', 'textpipe_yappi_before.prof', 'textpipe_after.prof', 'textpipe_pyprof_after.prof', 'textpipe_yappi_after.prof', 'README.md'];
  await page.setInputFiles('#batch-file-input', names.map((n) => join(FIX, n)));
  await page.waitForSelector('#batch-files li[data-name="textpipe_yappi_after.prof"]');
  assert.deepEqual(await page.$$eval('#batch-files li', (lis) => lis.map((li) => li.getAttribute('data-role'))), ['baseline', 'baseline', 'baseline', 'candidate', 'candidate', 'candidate']);
  await audit('batch compose');
  await page.click('#batch-submit');
  await page.waitForSelector('#batch-summary', { timeout: 60_000 });
  const want = await expectedBatch(page, batchId(page));
  assert.equal(want.status, 'done');
  assert.equal(want.runs, 6);
  assert.deepEqual(await tableRows(page, '#batch-stats-table'), want.stats);
  const shown = await page.$$eval('#batch-test dd', (dds) => Object.fromEntries(dds.map((d) => [d.getAttribute('data-k'), d.textContent])));
  assert.deepEqual(shown, want.test);
  assert.deepEqual(await tableRows(page, '#batch-regressions'), want.regressions);
  assert.deepEqual(await tableRows(page, '#batch-improvements'), want.improvements);
  const points = await page.$$eval('#batch-regressions svg.spark', (ss) => ss.map((s) => [s.querySelectorAll('circle.spark-base').length, s.querySelectorAll('circle.spark-cand').length]));
  assert.deepEqual(points, Array(want.regressions.length).fill([3, 3]));
  await page.click('#batch-file-status summary');
  await audit('batch summary');
  await page.screenshot({ path: join(SHOTS, 'batch-repeated.png'), fullPage: true });
  await context.close();
});

test('assets: strict CSP, revalidation, no inline script or style', async () => {
  const res = await fetch(base + '/');
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  const etag = res.headers.get('etag');
  assert.ok(etag);
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline style');
  const again = await fetch(base + '/', { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const js = await fetch(base + '/assets/app.js');
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await fetch(base + '/assets/nope.js')).status, 404);
});

/** Axe's WCAG 2 A/AA violations in a page opened with `bypassCSP`. @param {import('playwright-core').Page} page */
async function axeViolations(page) {
  const axeSource = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    // @ts-ignore axe is a global from the injected script
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((/** @type {any} */ v) => `${v.id}: ${v.help} (${v.nodes.length}× e.g. ${v.nodes[0]?.target})`);
  });
}

/**
 * What the ops page shows next to what it should show for GET /api/ops/stats fetched in
 * the page at the same moment (with the page's own formatters). Host CPU/memory, Redis
 * memory and heartbeat times move by themselves and are left out.
 * @param {import('playwright-core').Page} page
 */
function opsShownAndWanted(page) {
  return page.evaluate(async () => {
    /** @type {any} */
    const o = await import('/ops/ops.js');
    const token = sessionStorage.getItem('profdiff-admin-token') ?? '';
    /** @type {any} */
    const s = await (await fetch('/api/ops/stats', { headers: { 'X-Admin-Token': token }, cache: 'no-store' })).json();
    const text = (/** @type {Element|null} */ e) => (e?.textContent ?? '').trim();
    const rows = (/** @type {string} */ sel) => [...document.querySelectorAll(`${sel} tbody tr`)].map((tr) => [...tr.children].map((c) => text(c)));
    const card = (/** @type {string} */ k) => [text(document.querySelector(`.card[data-k="${k}"] b`)), document.querySelector(`.card[data-k="${k}"]`)?.getAttribute('data-v') ?? null];
    const legend = (/** @type {string} */ id) => [...document.querySelectorAll(`#${id} .legend span[data-k]`)].map((e) => [e.getAttribute('data-k'), text(e)]);
    const series = (/** @type {string} */ id) => [...document.querySelectorAll(`#${id} .legend span[data-k]`)].map((e) => e.getAttribute('data-k') ?? '');
    const last = s.per_minute[s.per_minute.length - 1];
    const wantLegend = (/** @type {string} */ id) =>
      series(id).map((k) => [k, `${o.seriesLabel(k)}: ${last[k]} this minute, ${s.per_minute.reduce((/** @type {number} */ a, /** @type {any} */ r) => a + r[k], 0)} in the hour`]);
    const shownAt = Number(document.getElementById('status')?.getAttribute('data-at'));
    return {
      minutes: [Math.floor(shownAt / 60), Math.floor(s.at / 60)],
      stats: s,
      shown: {
        sessions: card('active_sessions'),
        uploads: card('upload_bytes'),
        kinds: rows('#kinds'),
        workers: rows('#workers').map((r) => [r[0], r[1], r[2], r[4], r[5]]),
        failures: rows('#failures'),
        janitor: text(document.getElementById('janitor')),
        jobsLegend: legend('chart-jobs'),
        failLegend: legend('chart-fail'),
        chartMinute: document.querySelector('#chart-jobs svg')?.getAttribute('data-minute'),
      },
      wanted: {
        sessions: [String(s.active_sessions), String(s.active_sessions)],
        uploads: [`${o.bytes(s.upload_bytes)} (${s.upload_files} files)`, String(s.upload_bytes)],
        kinds: o.kinds(s).map((/** @type {string} */ k) => {
          const v = s.jobs[k];
          return [k, v.queued, v.running, v.started, v.done, v.failed, v.dead_bad_input, v.dead_retries_exhausted, v.retries, o.secs(v.p50_secs), o.secs(v.p95_secs)].map(String);
        }),
        workers: o.workers(s).map((/** @type {any} */ w) => [w.name, w.kind, w.host, w.alive ? 'yes' : 'no', o.current(w)]),
        failures: s.recent_failures.map((/** @type {any} */ f) => [o.clock(f.at), f.kind, f.job_id, f.target || '', f.reason || '', String(f.attempts ?? ''), f.worker || '', f.error]),
        janitor: o.janitor(s.janitor),
        jobsLegend: wantLegend('chart-jobs'),
        failLegend: wantLegend('chart-fail'),
        chartMinute: String(last.minute),
      },
    };
  });
}

test('ops page: token prompt, figures equal /api/ops/stats after uploads, a compare and a batch, live refresh, charts, axe, 375 px', async () => {
  // Its own server: the admin token also opens the debug routes, which the other tests
  // must not see; and its own key prefix gives figures of this test's jobs alone.
  const opsPrefix = `pdui:${randomUUID().replace(/-/g, '')}:`;
  const opsDir = mkdtempSync(join(tmpdir(), 'profdiff-ui-ops-'));
  const token = randomUUID();
  // The janitor runs once at start (the first tick is immediate), then not again here.
  const ops = await spawnServer(opsPrefix, opsDir, { PROFDIFF_ADMIN_TOKEN: token, JANITOR_INTERVAL_SECS: '3600' });
  /** @type {import('playwright-core').BrowserContext[]} */
  const contexts = [];
  try {
    const stats = async () => {
      const r = await fetch(`${ops.url}/api/ops/stats`, { headers: { 'X-Admin-Token': token } });
      assert.equal(r.status, 200);
      return /** @type {any} */ (await r.json());
    };
    // The page itself: strict CSP, nothing inline.
    const res = await fetch(`${ops.url}/ops`);
    assert.equal(res.status, 200);
    assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /unsafe-inline/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline style');

    // axe is injected as a script, which the page's CSP forbids: bypass it here only.
    const opsCtx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    contexts.push(opsCtx);
    const page = await opsCtx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${m.text()} @ ${m.location().url}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
    await page.goto(`${ops.url}/ops`);

    // No token: a prompt that says what it wants, no empty dashboard.
    await page.waitForSelector('#login:not([hidden])');
    assert.match((await page.textContent('#login-msg')) ?? '', /admin token/);
    assert.equal(await page.isHidden('#dash'), true);
    assert.equal(await page.isHidden('#forget'), true);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token');
    assert.deepEqual(await axeViolations(page), [], 'axe violations in the ops token prompt');
    await page.screenshot({ path: join(SHOTS, 'ops-login.png') });

    // A wrong token is refused in words and asked for again.
    await page.fill('#token', 'not-the-token');
    await page.press('#token', 'Enter');
    await page.waitForSelector('#login-msg >> text=refused');
    assert.equal(await page.isHidden('#dash'), true);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('profdiff-admin-token')), null);
    // That 401 is the answer under test; the browser logs it by itself.
    consoleErrors = consoleErrors.filter((e) => !e.includes('401'));

    await page.fill('#token', token);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#dash:not([hidden])');
    await page.waitForSelector('#status[data-at]');
    assert.equal(await page.isHidden('#login'), true);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('profdiff-admin-token')), token);
    assert.ok(!page.url().includes(token), 'the token is never in the URL');
    // Fresh prefix: nothing has run yet; the janitor has, once.
    assert.match((await page.textContent('#janitor')) ?? '', /^last run /);

    // A normal session drives the API: a good pair and a bad file, a compare, a batch.
    const userCtx = await browser.newContext();
    contexts.push(userCtx);
    const user = await userCtx.newPage();
    user.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
    await user.goto(`${ops.url}/`);
    await user.waitForSelector('#dropzone');
    /** @param {string} field @param {string[]} names */
    const fileParts = (field, names) => names.map((n) => ({ field, name: n.split('/').pop() ?? n, bytes: [...readFileSync(join(FIX, n))] }));
    /** @param {string} path @param {Array<{field: string, name: string, bytes: number[]}>} parts */
    const post = (path, parts) =>
      user.evaluate(
        async ([p, ps]) => {
          const fd = new FormData();
          for (const f of /** @type {any[]} */ (ps)) fd.append(f.field, new File([new Uint8Array(f.bytes)], f.name));
          const r = await fetch(/** @type {string} */ (p), { method: 'POST', body: fd });
          return { status: r.status, body: await r.json() };
        },
        /** @type {[string, any[]]} */ ([path, parts]),
      );
    /** @param {string} path */
    const get = (path) => user.evaluate(async (p) => {
      const r = await fetch(p);
      return { status: r.status, body: await r.json() };
    }, path);
    const until = async (/** @type {() => Promise<boolean>} */ done, /** @type {string} */ what, ms = 60_000) => {
      const end = Date.now() + ms;
      while (!(await done())) {
        assert.ok(Date.now() < end, `timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };

    const up = await post('/api/upload', fileParts('file', ['textpipe_before.prof', 'textpipe_after.prof', 'bad/random_bytes.prof']));
    assert.equal(up.status, 202);
    /** @type {any[]} */
    let profiles = [];
    await until(async () => {
      profiles = (await get('/api/profiles')).body.profiles;
      return profiles.length === 3 && profiles.every((p) => p.status === 'ready' || p.status === 'failed');
    }, 'the uploads to parse');
    const byName = (/** @type {string} */ n) => profiles.find((p) => p.name === n);
    const bad = byName('random_bytes.prof');
    assert.equal(bad.status, 'failed');
    assert.ok(bad.error);
    const cmp = await user.evaluate(async (body) => {
      const r = await fetch('/api/compare', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() };
    }, { baseline: byName('textpipe_before.prof').id, candidate: byName('textpipe_after.prof').id });
    assert.equal(cmp.status, 202);
    await until(async () => (await get(`/api/comparisons/${cmp.body.comparison_id}?limit=1`)).status === 200, 'the comparison');
    const batch = await post('/api/batches', [...fileParts('baseline', ['recursion_before.prof']), ...fileParts('candidate', ['recursion_after.prof'])]);
    assert.equal(batch.status, 202);
    await until(async () => (await get(`/api/batches/${batch.body.batch_id}`)).status === 200, 'the batch');

    // The workers count a job at its end: wait until the figures have all of them.
    await until(async () => {
      const s = await stats();
      return s.jobs.parse.done + s.jobs.parse.failed === 5 && s.jobs.compare.done === 2 && s.jobs.parse.running + s.jobs.compare.running === 0;
    }, 'the job figures', 30_000);
    const settled = await stats();
    assert.deepEqual(
      ['parse', 'compare'].map((k) => [k, settled.jobs[k].started, settled.jobs[k].done, settled.jobs[k].failed, settled.jobs[k].dead_bad_input, settled.jobs[k].queued]),
      [['parse', 5, 4, 1, 1, 0], ['compare', 2, 2, 0, 0, 0]],
    );
    // The bad file is the one dead job, with the parser's error as the profile shows it.
    assert.equal(settled.recent_failures.length, 1);
    const dead = settled.recent_failures[0];
    assert.deepEqual([dead.kind, dead.reason, dead.target], ['parse', 'bad_input', bad.id]);
    assert.ok(dead.error.includes(bad.error) || bad.error.includes(dead.error), `dead job error ${dead.error} vs profile error ${bad.error}`);
    // Every byte uploaded is on disk: the three uploads and the batch's two dumps.
    const sent = ['textpipe_before.prof', 'textpipe_after.prof', 'bad/random_bytes.prof', 'recursion_before.prof', 'recursion_after.prof'].reduce((a, n) => a + readFileSync(join(FIX, n)).length, 0);
    assert.deepEqual([settled.upload_bytes, settled.upload_files], [sent, 5]);
    assert.ok(settled.active_sessions >= 1);
    const host = settled.host.host;
    assert.deepEqual([...new Set(settled.workers.map((/** @type {any} */ w) => w.kind))].sort(), ['compare', 'parse']);
    for (const w of settled.workers) assert.deepEqual([w.host, w.alive], [host, true], `worker ${w.name}`);

    // The page refreshes by itself: another upload shows up without a reload.
    await page.evaluate(() => {
      /** @type {any} */ (window).notReloaded = true;
    });
    const doneCell = () => page.textContent('#kinds tbody tr:first-child td:nth-child(5)');
    await page.waitForFunction((t) => Number(document.getElementById('status')?.getAttribute('data-at')) >= t, settled.at, { timeout: 15_000 });
    assert.equal(await doneCell(), '4');
    const more = await post('/api/upload', fileParts('file', ['stdlibmix_before.prof']));
    assert.equal(more.status, 202);
    await page.waitForFunction(() => document.querySelector('#kinds tbody tr:first-child td:nth-child(5)')?.textContent === '5', null, { timeout: 20_000 });
    await page.waitForFunction((n) => document.querySelector('.card[data-k="upload_bytes"]')?.getAttribute('data-v') === String(n), sent + readFileSync(join(FIX, 'stdlibmix_before.prof')).length, { timeout: 20_000 });
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).notReloaded), true);

    // Everything shown equals the API at that moment (again after a minute boundary).
    let seen = await opsShownAndWanted(page);
    if (seen.minutes[0] !== seen.minutes[1]) {
      await page.waitForFunction((t) => Number(document.getElementById('status')?.getAttribute('data-at')) > t, seen.stats.at, { timeout: 15_000 });
      seen = await opsShownAndWanted(page);
    }
    assert.deepEqual(seen.shown, seen.wanted);
    assert.equal(seen.shown.kinds.length, 2);
    assert.equal(seen.shown.failures.length, 1);
    assert.ok(seen.shown.failures[0][7].length > 0, 'the dead job shows its error');
    assert.ok(seen.shown.workers.length >= 2);
    // The charts: SVGs of the last hour, one point per minute, ending at the current minute
    // at the height of its figure.
    const s = seen.stats;
    const lines = await page.$$eval('#chart-jobs svg polyline', (ps) => ps.map((p) => [p.getAttribute('data-k'), (p.getAttribute('points') ?? '').split(' ')]));
    assert.equal(lines.length, 4);
    const peak = Math.max(1, ...s.per_minute.flatMap((/** @type {any} */ r) => ['parse_started', 'parse_done', 'compare_started', 'compare_done'].map((k) => r[k])));
    const last = s.per_minute[s.per_minute.length - 1];
    assert.equal(last.minute, Math.floor(s.at / 60) * 60);
    for (const [k, pts] of lines) {
      assert.equal(pts.length, 60);
      const y = Number((pts[59] ?? '').split(',')[1]);
      assert.ok(Math.abs(y - (150 - 4 - (last[k ?? ''] * 142) / peak)) < 0.11, `${k}: last point at ${y} for ${last[k ?? '']} of ${peak}`);
    }
    const hourDone = s.per_minute.reduce((/** @type {number} */ a, /** @type {any} */ r) => a + r.parse_done, 0);
    assert.equal(hourDone, 5, 'all parse jobs of this test are in the last hour');
    assert.equal(await page.locator('#chart-fail svg polyline').count(), 4);
    // Running jobs: a level at each minute's end (all ended by now), not a count.
    assert.equal(await page.locator('#chart-running svg polyline').count(), 2);
    const runningLegend = await page.$$eval('#chart-running .legend span[data-k]', (es) => es.map((e) => e.textContent));
    assert.deepEqual(runningLegend, ['parse', 'compare'].map((k) => `${k} running: ${last[`${k}_running`]} now, at most ${Math.max(...s.per_minute.map((/** @type {any} */ r) => r[`${k}_running`]))} in the hour`));
    assert.ok(seen.shown.failLegend.some(([k, t]) => k === 'parse_failed' && / 1 in the hour$/.test(t ?? '')));
    await page.screenshot({ path: join(SHOTS, 'ops.png'), fullPage: true });

    assert.deepEqual(await axeViolations(page), [], 'axe violations in the ops dashboard');
    await page.setViewportSize({ width: 375, height: 800 });
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0, 'ops page scrolls sideways');
    assert.deepEqual(await axeViolations(page), [], 'axe violations in the ops dashboard at 375 px');
    await page.screenshot({ path: join(SHOTS, 'ops-narrow.png'), fullPage: true });

    // Forget the token: back to the prompt, nothing kept.
    await page.click('#forget');
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.isHidden('#dash'), true);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('profdiff-admin-token')), null);
  } finally {
    for (const c of contexts) await c.close();
    await stopServer(ops.proc);
    deleteKeys(opsPrefix);
    rmSync(opsDir, { recursive: true, force: true });
  }
});
