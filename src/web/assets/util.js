// Small DOM and number helpers shared by the views. No framework: the page is a handful
// of views re-rendered from the hash route.

/**
 * Creates an element. `attrs` keys starting with "on" become listeners; `class`, `text`
 * and other keys become attributes (never inline style: the CSP forbids it).
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.className = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/**
 * Seconds as pstats prints them, with a unit for small values.
 * @param {number|null|undefined} s
 */
export function fmtTime(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  const a = Math.abs(s);
  if (a === 0) return '0 s';
  if (a >= 1) return `${s.toFixed(3)} s`;
  if (a >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

/**
 * A signed time difference.
 * @param {number|null|undefined} s
 */
export function fmtDelta(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  return (s > 0 ? '+' : s < 0 ? '−' : '±') + fmtTime(Math.abs(s));
}

/**
 * Plain fixed seconds (pstats columns).
 * @param {number|null|undefined} s
 */
export function fmtSec(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  return s.toFixed(6);
}

/**
 * @param {number|null|undefined} n
 */
export function fmtInt(n) {
  if (n === null || n === undefined) return '–';
  return Number(n).toLocaleString('en-US');
}

/**
 * @param {number|null|undefined} n
 */
export function fmtSignedInt(n) {
  if (n === null || n === undefined) return '–';
  return (n > 0 ? '+' : n < 0 ? '−' : '±') + Math.abs(n).toLocaleString('en-US');
}

/**
 * @param {number|null|undefined} p
 */
export function fmtPct(p) {
  if (p === null || p === undefined || !Number.isFinite(p)) return '–';
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p).toFixed(1)} %`;
}

/**
 * A p-value: three decimals, or "< 0.001".
 * @param {number|null|undefined} p
 */
export function fmtP(p) {
  if (p === null || p === undefined || !Number.isFinite(p)) return '–';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/**
 * An effect size in [-1, 1] (Cliff's delta), signed, two decimals.
 * @param {number|null|undefined} d
 */
export function fmtEffect(d) {
  if (d === null || d === undefined || !Number.isFinite(d)) return '–';
  return `${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(2)}`;
}

/**
 * @param {number|null|undefined} b
 */
export function fmtBytes(b) {
  if (b === null || b === undefined) return '–';
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * pstats' `filename:lineno(function)`.
 * @param {string} file @param {number} line @param {string} name
 */
export function funcLabel(file, line, name) {
  if (file === '~' && line === 0) return name;
  return `${file}:${line}(${name})`;
}

/**
 * A short label: the name with the file's last component.
 * @param {string} file @param {number} line @param {string} name
 */
export function shortLabel(file, line, name) {
  if (file === '~' || file === '') return name;
  const base = file.split(/[\\/]/).pop() || file;
  return `${name} (${base}:${line})`;
}

/** Text typed by a person, as a regex that matches it literally.
 * @param {string} s */
export function escapeRegex(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Debounces a function.
 * @template {any[]} A
 * @param {(...args: A) => void} fn
 * @param {number} ms
 * @returns {(...args: A) => void}
 */
export function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/**
 * Relative time like "in 23 h".
 * @param {number} secs seconds from now
 */
export function fmtIn(secs) {
  if (secs <= 0) return 'now';
  if (secs < 120) return `in ${Math.round(secs)} s`;
  if (secs < 7200) return `in ${Math.round(secs / 60)} min`;
  if (secs < 172800) return `in ${Math.round(secs / 3600)} h`;
  return `in ${Math.round(secs / 86400)} days`;
}

/**
 * Makes `zone` take files dragged from the desktop: highlighted while over it, `onFiles`
 * called with what was dropped (the page itself must not open them).
 * @param {HTMLElement} zone
 * @param {(files: File[]) => void} onFiles
 */
export function acceptDroppedFiles(zone, onFiles) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    zone.classList.remove('dragging');
    const files = e.dataTransfer?.files;
    if (files && files.length) onFiles([...files]);
  });
}
