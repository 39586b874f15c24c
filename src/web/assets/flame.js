// Icicle ("flame graph" drawn top-down) built the way snakeviz builds it: from the
// roots (functions nobody calls) down the caller→callee edges; a child's size is the
// cumulative time pstats recorded for that one call pair, scaled down when the
// children add up to more than their parent; a function already on the path is not
// entered again (cycles are cut). pstats keeps one level of callers only, so a deep
// path is an inference, not a recorded stack.

import { h, shortLabel, funcLabel, fmtTime, fmtDelta } from './util.js';

/** @typedef {import('./api.js').Graph} Graph */
/** @typedef {{key: string, file: string, line: number, name: string, base: number, cand: number, children: FNode[], parent: FNode|null}} FNode */
/** @typedef {{key: string, file: string, line: number, name: string, value: number, kids: Map<string, TNode>}} TNode */

/** Most nodes one tree may hold (per profile). */
export const NODE_CAP = 4000;
const MAX_DEPTH = 150;

/** @param {string} file @param {number} line @param {string} name */
const keyOf = (file, line, name) => `${file}\u0000${line}\u0000${name}`;

/**
 * One profile's tree, keyed by function so two trees can be laid over each other.
 * @param {Graph} g
 * @returns {TNode}
 */
export function buildTree(g) {
  const n = g.functions.length;
  /** @type {Array<Array<{to: number, ct: number}>>} */
  const out = Array.from({ length: n }, () => []);
  const hasCaller = new Uint8Array(n);
  for (const [from, to, nc, , , ct] of g.edges) {
    if (from === to || !g.functions[from] || !g.functions[to]) continue;
    const callee = g.functions[to];
    // Count-only edges (the `profile` module): share the callee's time by calls.
    const t = ct ?? (callee[4] > 0 ? (callee[6] * nc) / callee[4] : 0);
    out[from].push({ to, ct: Math.max(0, t) });
    hasCaller[to] = 1;
  }
  for (const list of out) list.sort((a, b) => b.ct - a.ct);
  /** @param {number} i */
  const own = (i) => {
    const f = g.functions[i];
    const viaEdges = out[i].reduce((s, e) => s + e.ct, 0);
    return Math.max(f[6], viaEdges);
  };
  const roots = [];
  for (let i = 0; i < n; i++) if (!hasCaller[i] && own(i) > 0) roots.push(i);
  // Recursion through the import machinery gives the real top (`exec`, `<module>`)
  // callers of its own, so "nobody calls it" can miss it: the function with the most
  // cumulative time is a root too when the caller-less ones hold less than it.
  let top = -1;
  for (let i = 0; i < n; i++) if (top < 0 || own(i) > own(top)) top = i;
  const loose = roots.reduce((s, i) => s + own(i), 0);
  if (top >= 0 && !roots.includes(top) && own(top) > loose) roots.push(top);
  roots.sort((a, b) => own(b) - own(a));
  const rootTotal = roots.reduce((s, i) => s + own(i), 0);
  /** @type {TNode} */
  const root = { key: 'root', file: '', line: 0, name: 'all', value: rootTotal, kids: new Map() };
  const minValue = rootTotal * 0.0005;
  let count = 0;
  const onPath = new Uint8Array(n);
  /** @param {TNode} node @param {number} fi @param {number} depth */
  const expand = (node, fi, depth) => {
    if (depth > MAX_DEPTH || count >= NODE_CAP) return;
    onPath[fi] = 1;
    const edges = out[fi].filter((e) => !onPath[e.to] && e.ct > 0);
    const sum = edges.reduce((s, e) => s + e.ct, 0);
    const scale = sum > node.value && sum > 0 ? node.value / sum : 1;
    for (const e of edges) {
      const v = e.ct * scale;
      if (v < minValue || count >= NODE_CAP) continue;
      const f = g.functions[e.to];
      const k = keyOf(f[0], f[1], f[2]);
      let child = node.kids.get(k);
      if (!child) {
        child = { key: k, file: f[0], line: f[1], name: f[2], value: 0, kids: new Map() };
        node.kids.set(k, child);
        count++;
      }
      child.value += v;
      expand(child, e.to, depth + 1);
    }
    onPath[fi] = 0;
  };
  for (const r of roots) {
    if (count >= NODE_CAP) break;
    const f = g.functions[r];
    const k = keyOf(f[0], f[1], f[2]);
    /** @type {TNode} */
    const node = { key: k, file: f[0], line: f[1], name: f[2], value: own(r), kids: new Map() };
    root.kids.set(k, node);
    count++;
    expand(node, r, 1);
  }
  return root;
}

/**
 * Lays one or two trees over each other: `base`/`cand` are each side's time for the
 * same path (0 where the path is absent).
 * @param {TNode|null} a baseline (or null for a plain view)
 * @param {TNode} b candidate (or the one profile)
 * @returns {FNode}
 */
export function mergeTrees(a, b) {
  /** @param {TNode|undefined} x @param {TNode|undefined} y @param {FNode|null} parent @returns {FNode} */
  const merge = (x, y, parent) => {
    const t = /** @type {TNode} */ (y ?? x);
    /** @type {FNode} */
    const node = { key: t.key, file: t.file, line: t.line, name: t.name, base: x?.value ?? 0, cand: y?.value ?? 0, children: [], parent };
    const keys = new Set([...(x?.kids.keys() ?? []), ...(y?.kids.keys() ?? [])]);
    for (const k of keys) node.children.push(merge(x?.kids.get(k), y?.kids.get(k), node));
    node.children.sort((p, q) => Math.max(q.base, q.cand) - Math.max(p.base, p.cand));
    return node;
  };
  return merge(a ?? undefined, b, null);
}

/** @param {string} s */
function hash(s) {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
  return x >>> 0;
}

/**
 * Draws the icicle into `host` and wires zoom, breadcrumb, hover and search.
 * @param {HTMLElement} host
 * @param {FNode} tree
 * @param {{diff: boolean, onDetails?: (text: string) => void}} opts
 */
export function renderFlame(host, tree, opts) {
  const width = (/** @type {FNode} */ n) => (opts.diff ? Math.max(n.base, n.cand) : n.cand);
  let maxAbs = 0;
  /** @param {FNode} n */
  const scan = (n) => {
    maxAbs = Math.max(maxAbs, Math.abs(n.cand - n.base));
    n.children.forEach(scan);
  };
  scan(tree);
  let search = '';
  let focus = tree;
  const crumbs = h('nav', { class: 'fg-crumbs', 'aria-label': 'Flame graph zoom path' });
  const canvas = h('div', { class: 'fg-canvas', role: 'group', 'aria-label': 'Flame graph' });
  const details = h('p', { class: 'fg-details', 'aria-live': 'polite' }, 'Hover or focus a block for details; click to zoom.');
  host.replaceChildren(crumbs, canvas, details);

  /** @param {FNode} n */
  const describe = (n) => {
    const total = width(focus) || 1;
    const label = n.key === 'root' ? 'all roots' : funcLabel(n.file, n.line, n.name);
    if (!opts.diff) return `${label}: ${fmtTime(n.cand)} (${((100 * n.cand) / total).toFixed(1)} % of view)`;
    return `${label}: before ${fmtTime(n.base)}, after ${fmtTime(n.cand)}, Δ ${fmtDelta(n.cand - n.base)}`;
  };

  /** @param {FNode} n */
  const colour = (n) => {
    if (!opts.diff) {
      const x = hash(n.file);
      return `hsl(${20 + (x % 40)}, ${70 + (x % 20)}%, ${62 + ((x >> 8) % 14)}%)`;
    }
    const d = n.cand - n.base;
    const r = maxAbs > 0 ? Math.min(1, Math.abs(d) / maxAbs) : 0;
    const light = 92 - 34 * Math.sqrt(r);
    return d > 0 ? `hsl(0, 85%, ${light}%)` : d < 0 ? `hsl(212, 85%, ${light}%)` : 'hsl(0, 0%, 88%)';
  };

  const draw = () => {
    const total = width(focus);
    /** @type {HTMLElement[]} */
    const blocks = [];
    let depthMax = 0;
    let matches = 0;
    const q = search.toLowerCase();
    /** @param {FNode} n @param {number} x @param {number} depth */
    const place = (n, x, depth) => {
      const w = total > 0 ? width(n) / total : 0;
      if (w < 0.002) return;
      depthMax = Math.max(depthMax, depth);
      const label = n.key === 'root' ? 'all' : shortLabel(n.file, n.line, n.name);
      const hit = q !== '' && n.key !== 'root' && funcLabel(n.file, n.line, n.name).toLowerCase().includes(q);
      if (hit) matches++;
      const el = h('div', {
        class: `fg-node${hit ? ' fg-match' : ''}${q !== '' && !hit ? ' fg-dim' : ''}`,
        role: 'button',
        tabindex: w >= 0.02 ? '0' : '-1',
        // The visible text first (WCAG 2.5.3), then the numbers.
        'aria-label': `${label} — ${describe(n)}`,
        title: describe(n),
        'data-key': n.key,
      });
      el.append(h('span', { text: label }));
      el.style.left = `${(x * 100).toFixed(4)}%`;
      el.style.width = `${(w * 100).toFixed(4)}%`;
      el.style.top = `${depth * 20}px`;
      el.style.backgroundColor = colour(n);
      const show = () => opts.onDetails?.(describe(n)) ?? (details.textContent = describe(n));
      el.addEventListener('mouseenter', show);
      el.addEventListener('focus', show);
      const zoom = () => {
        focus = n === focus && n.parent ? n.parent : n;
        draw();
      };
      el.addEventListener('click', zoom);
      el.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          zoom();
        }
      });
      blocks.push(el);
      let cx = x;
      for (const c of n.children) {
        place(c, cx, depth + 1);
        cx += total > 0 ? width(c) / total : 0;
      }
    };
    place(focus, 0, 0);
    canvas.replaceChildren(...blocks);
    canvas.style.height = `${(depthMax + 1) * 20}px`;
    // Breadcrumb: the path from the top to the zoomed block.
    /** @type {FNode[]} */
    const path = [];
    for (let n = /** @type {FNode|null} */ (focus); n; n = n.parent) path.unshift(n);
    crumbs.replaceChildren(
      ...path.map((n, i) =>
        i === path.length - 1
          ? h('span', { class: 'fg-crumb-current', 'aria-current': 'true', text: n.key === 'root' ? 'all' : n.name })
          : h('button', {
              type: 'button',
              class: 'fg-crumb',
              onclick: () => {
                focus = n;
                draw();
              },
              text: n.key === 'root' ? 'all' : n.name,
            }),
      ),
    );
    host.dataset.blocks = String(blocks.length);
    host.dataset.matches = String(matches);
  };
  draw();
  return {
    /** @param {string} text */
    setSearch(text) {
      search = text.trim();
      draw();
      return Number(host.dataset.matches);
    },
    reset() {
      focus = tree;
      draw();
    },
  };
}
