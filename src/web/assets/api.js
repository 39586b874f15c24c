// The HTTP API as the UI uses it. The session is the HttpOnly cookie the server sets;
// every request is same-origin. Errors become `ApiError` with a sentence a person can
// read; "busy" answers (429, 503: queue full or Redis down) are retried for reads.

/** @typedef {{id: string, name: string|null, status: string|null, size: number|null, format: string|null, error: string|null, job_id: string|null, uploaded: number|null, producer: string|null, functions: number|null, total_calls: number|null, primitive_calls: number|null, total_time: number|null}} ProfileInfo */
/** @typedef {{cc: number, nc: number, tt: number, ct: number}} Nums */
/** @typedef {{file: string, line: number, name: string, baseline: Nums|null, candidate: Nums|null, delta: {nc: number, tt: number, ct: number}, status: string}} Row */
/** @typedef {{name: string, functions: number, total_calls: number, primitive_calls: number, total_time: number}} Side */
/** @typedef {{schema: string, baseline: Side, candidate: Side, functions: Row[]}} ComparisonDoc */
/** @typedef {{id: string, status: string, total_rows: number, offset: number, baseline_id: string, candidate_id: string, comparison: ComparisonDoc}} ComparisonPage */
/** @typedef {{id: string, name: string, producer: string, total_calls: number, primitive_calls: number, total_time: number, functions: Array<[string, number, string, number, number, number, number]>, edges: Array<[number, number, number, number, number|null, number|null]>}} Graph */

/** An API failure with a readable message. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    /** The parsed answer, when it carried more than the error (a failed batch lists its failures). @type {any} */
    this.body = null;
  }
}

/**
 * Sends again while the service answers busy (429 queue full or rate limited, 503 storage
 * down: nothing was kept), waiting 1, 2, 4… s (at most 8 s) between nine tries at most.
 * @template T
 * @param {() => Promise<T>} send
 * @param {(e: ApiError) => void} onWait told each time it waits, to say so on the page
 * @returns {Promise<T>}
 */
export async function retryWhileBusy(send, onWait) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 429 && e.status !== 503) || attempt >= 8) throw e;
      onWait(e);
      await new Promise((r) => setTimeout(r, Math.min(8000, 1000 * 2 ** attempt)));
    }
  }
}

/** @type {(msg: string|null) => void} */
let busyListener = () => {};
/** Where "service busy, retrying" notices go. @param {(msg: string|null) => void} fn */
export function onBusy(fn) {
  busyListener = fn;
}

/**
 * Turns an error response into words.
 * @param {number} status
 * @param {any} body
 */
function explain(status, body) {
  const code = body?.error?.code ?? 'error';
  // A failed batch answers `"error": "sentence"` next to its progress, not an object.
  const msg = body?.error?.message ?? (typeof body?.error === 'string' ? body.error : '');
  if (status === 413) {
    const limit = Number(/(\d+) bytes/.exec(msg)?.[1]);
    const words = limit ? `the server accepts at most ${(limit / 1024 / 1024).toFixed(1)} MiB per upload.` : msg;
    return new ApiError(status, code, `File too big: ${words}`);
  }
  if (status === 415) return new ApiError(status, code, `Not a profile file. ${msg}`.trim());
  if (status === 429 || status === 503)
    return new ApiError(status, code, 'The service is busy (its storage or queue is not answering); retrying…');
  if (status === 404) return new ApiError(status, code, `Not found: ${msg || 'it may have expired or been deleted.'}`);
  if (status >= 500) return new ApiError(status, code, `The server failed: ${msg || 'internal error'}`);
  const err = new ApiError(status, code, msg || `Request failed (HTTP ${status}).`);
  err.body = body;
  return err;
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * JSON request; reads retry while the service is busy.
 * @param {string} method
 * @param {string} path
 * @param {any} [body]
 * @returns {Promise<{status: number, data: any}>}
 */
async function request(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    /** @type {Response} */
    let res;
    try {
      res = await fetch(path, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      if (method === 'GET' && attempt < 20) {
        busyListener('Cannot reach the server; retrying…');
        await sleep(Math.min(5000, 500 * 2 ** attempt));
        continue;
      }
      throw new ApiError(0, 'network', 'Cannot reach the server. Check the connection and try again.');
    }
    const data = await res.json().catch(() => null);
    if (res.ok) {
      if (attempt > 0) busyListener(null);
      return { status: res.status, data };
    }
    const err = explain(res.status, data);
    // A busy answer means nothing was done, so even a POST is safe to send again.
    if ((res.status === 429 || res.status === 503) && attempt < 20) {
      busyListener(err.message);
      await sleep(Math.min(5000, 500 * 2 ** attempt));
      continue;
    }
    throw err;
  }
}

/** @returns {Promise<ProfileInfo[]>} */
export async function listProfiles() {
  return (await request('GET', '/api/profiles')).data.profiles;
}

/** @returns {Promise<any>} */
export async function sessionInfo() {
  return (await request('GET', '/api/session-info')).data;
}

/** @param {string} id */
export async function deleteProfile(id) {
  await request('DELETE', `/api/profiles/${encodeURIComponent(id)}`);
}

export async function clearSession() {
  await request('POST', '/api/clear', {});
}

/** @param {string} id @returns {Promise<{id: string, kind: string, status: string, error: string|null}>} */
export async function job(id) {
  return (await request('GET', `/api/jobs/${encodeURIComponent(id)}`)).data;
}

/** @param {string} baseline @param {string} candidate @returns {Promise<{job_id: string, comparison_id: string}>} */
export async function startCompare(baseline, candidate) {
  return (await request('POST', '/api/compare', { baseline, candidate })).data;
}

/**
 * One page of a comparison; `null` while it is still being computed.
 * @param {string} id
 * @param {Record<string, string|number|boolean|undefined>} params
 * @returns {Promise<ComparisonPage|null>}
 */
export async function comparisonPage(id, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== false) q.set(k, String(v));
  const r = await request('GET', `/api/comparisons/${encodeURIComponent(id)}?${q}`);
  return r.status === 202 ? null : r.data;
}

/** @param {string} id @returns {Promise<{added: number, removed: number, changed: number, unchanged: number, rows: number, max_abs_delta_tt: number}>} */
export async function comparisonSummary(id) {
  return (await request('GET', `/api/comparisons/${encodeURIComponent(id)}/summary`)).data;
}

/** @type {Map<string, Promise<Graph>>} */
const graphs = new Map();
/** A profile's call graph (cached: a ready profile never changes). @param {string} id @returns {Promise<Graph>} */
export function graph(id) {
  let g = graphs.get(id);
  if (!g) {
    g = request('GET', `/api/profiles/${encodeURIComponent(id)}/graph`).then((r) => r.data);
    g.catch(() => graphs.delete(id));
    graphs.set(id, g);
  }
  return g;
}

/**
 * Uploads one file with progress (XMLHttpRequest: fetch has no upload progress).
 * @param {File} file
 * @param {(fraction: number) => void} onProgress
 * @returns {Promise<{id: string, name: string, job_id: string, status: string}>}
 */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/upload');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 202 || xhr.status === 200) {
        const p = xhr.response?.profiles?.[0];
        if (p) resolve(p);
        else reject(new ApiError(xhr.status, 'bad_response', 'The server answered without a profile id.'));
      } else reject(explain(xhr.status, xhr.response));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'The upload was interrupted (network error).')));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/** @typedef {{median: number, iqr: number, mad: number, min: number, max: number, values: number[]}} Spread */
/** @typedef {{u: number, p_value: number, effect: number, method: string}} MannWhitney */
/** @typedef {{baseline: Spread, candidate: Spread, delta_median: number, percent: number|null, test: MannWhitney|null, verdict: string}} GroupDiff */
/** @typedef {GroupDiff & {file: string, line: number, name: string, baseline_present: number, candidate_present: number}} FunctionGroupDiff */
/** @typedef {{name: string, total_time: number, delta: number, percent: number|null}} CandidateTotal */
/** @typedef {{schema: string, baseline_total_time: number, candidates: CandidateTotal[], top_regressions: FunctionGroupDiff[], top_improvements: FunctionGroupDiff[], groups: {schema: string, alpha: number, baseline: {runs: string[]}, candidate: {runs: string[]}, total_time: GroupDiff, functions: FunctionGroupDiff[]}}} BatchSummary */
/** @typedef {{id: string, status: string, progress: {done: number, total: number, failed: number, parse?: {done: number, total: number, failed: number}, compare?: {done: number, total: number, failed: number}, jobs?: {done: number, total: number}}, failures: Array<{id: string, name: string, role: string, error: string}>, profiles: Array<{id: string, name: string, role: string, status: string, comparison_id?: string}>, reference_baseline?: string|null, summary?: BatchSummary, error?: string}} BatchState */

/**
 * A batch: progress while its dumps are parsed and compared, then the summary.
 * @param {string} id
 * @returns {Promise<BatchState>}
 */
export async function batch(id) {
  return (await request('GET', `/api/batches/${encodeURIComponent(id)}`)).data;
}

/**
 * Uploads a batch in one request with progress. Each file goes in the multipart field
 * of its role (`baseline`, `candidate`, or `archive` for an archive whose folders say).
 * @param {Array<{file: File, role: 'baseline'|'candidate'|'archive'}>} entries
 * @param {(fraction: number) => void} onProgress
 * @returns {Promise<{batch_id: string, status: string, profiles: Array<{id: string, name: string, role: string, job_id: string, size: number}>}>}
 */
export function createBatch(entries, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/batches');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 202 || xhr.status === 200) {
        if (xhr.response?.batch_id) resolve(xhr.response);
        else reject(new ApiError(xhr.status, 'bad_response', 'The server answered without a batch id.'));
      } else reject(explain(xhr.status, xhr.response));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'The upload was interrupted (network error).')));
    const form = new FormData();
    for (const { file, role } of entries) form.append(role, file, file.name);
    xhr.send(form);
  });
}
