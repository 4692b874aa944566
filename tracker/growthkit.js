// GrowthKit browser tracker: track() with context and sessions, batching, sendBeacon on page
// hide and a persisted offline queue. No dependencies, no build step; docs/tracker.md.
// Import it as an ES module, or load it with
// <script type="module" src=".../sdk/growthkit.js" data-key="pk_…" data-api="https://…">.

const NAME = /^[\p{L}\p{N}_\-.:/ ]{1,200}$/u; // the server's eventName rule
const SESSION_MS = 18e5; // a session ends after 30 minutes without events
const CHUNK = 16e3; // characters per request: a beacon stays well under 64 KB even in UTF-8
const PAGE_VIEW = 'page_viewed';
const W = typeof window < 'u' && window;
const opts = { batchSize: 10, flushInterval: 3e4, maxQueue: 500 };
const mem = {}; // storage fallback (Safari private mode, blocked storage)

let queue = []; // unsent events, oldest first; mirrored to localStorage once initialised
let fp; // the lead's fingerprint, once known
let ready, qKey, url, busy, attempt = 0, retryAt = 0, retryTimer, lastPath, gotFp;
const fpReady = new Promise((resolve) => (gotFp = resolve));

const log = (...a) => opts.debug && console.warn('[growthkit]', ...a);
const json = JSON.stringify;

// RFC 4122 version 4 ids from getRandomValues (randomUUID needs a secure context).
const uuid = () =>
  '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
    (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

function get(k) {
  try {
    return JSON.parse(localStorage.getItem(k)) ?? mem[k];
  } catch {
    return mem[k];
  }
}

// Returns true when localStorage took the value; memory always does.
function set(k, v) {
  mem[k] = v;
  try {
    v == null ? localStorage.removeItem(k) : localStorage.setItem(k, json(v));
    return 1;
  } catch {
    try {
      localStorage.removeItem(k); // never leave a stale copy behind a failed write
    } catch {}
  }
}

const persist = () => ready && set(qKey, queue.length ? queue : null);

// Browser, OS and device type from the user agent (names follow ua-parser's families).
function device(n) {
  const u = n.userAgent, has = (re) => re.test(u);
  const touchMac = has(/Macintosh/) && n.maxTouchPoints > 1; // iPadOS asks for desktop pages
  let browser = 'Other', m;
  for (const [name, re] of [['Edge', /Edg\w*\/(\d+)/], ['Opera', /OPR\/(\d+)/],
    ['Samsung Internet', /SamsungBrowser\/(\d+)/], ['Firefox', /(?:Firefox|FxiOS)\/(\d+)/],
    ['Chrome', /(?:Chrome|CriOS)\/(\d+)/], ['Safari', /Version\/(\d+).*Safari/]]) {
    if ((m = u.match(re))) {
      browser = name + ' ' + m[1];
      break;
    }
  }
  return {
    browser,
    os: has(/Windows/) ? 'Windows' : has(/iP(hone|ad|od)/) || touchMac ? 'iOS'
      : has(/Android/) ? 'Android' : has(/CrOS/) ? 'Chrome OS' : has(/Mac OS X/) ? 'Mac OS X'
        : has(/Linux/) ? 'Linux' : 'Other',
    device: has(/iPad|Tablet|PlayBook|Silk/i) || touchMac || (has(/Android/) && !has(/Mobi/))
      ? 'tablet' : has(/Mobi|iPhone|iPod|Android/) ? 'mobile' : 'desktop',
    screenResolution: screen.width + 'x' + screen.height,
    userAgent: u,
    language: n.language,
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}

// A persisted random id, prefixed by a hash of coarse stable signals: leads of one device
// share the prefix (useful against credit farming by clearing storage), and where storage
// fails the hash alone keeps a visitor's id stable across reloads.
function defaultFingerprint() {
  let id = get('gk_fp'), h = 2166136261;
  if (id) return id;
  const n = navigator, s = screen, r = '_' + uuid().slice(-12);
  for (const c of json([s.width, s.height, s.colorDepth, devicePixelRatio, n.language,
    n.hardwareConcurrency, n.platform, n.maxTouchPoints, device(n).timeZone])) {
    h = Math.imul(h ^ c.charCodeAt(0), 16777619); // FNV-1a
  }
  id = 'fp_' + (h >>> 0).toString(36);
  return set('gk_fp', id + r) ? id + r : id;
}

// The first events of `list` that fit one request (at most 100, about CHUNK characters).
function chunk(list) {
  let n = 0, size = 0;
  while (n < list.length && n < 100 && (size += json(list[n]).length) < CHUNK) n++;
  return list.slice(0, n || 1);
}

const body = (events) =>
  json({ key: opts.publicKey, fingerprint: fp, sentAt: Date.now(), context: device(navigator),
    events });

function remove(batch) {
  queue = queue.filter((e) => !batch.includes(e));
  persist();
}

function retryLater(response) {
  const wait = Math.max(
    +response?.headers?.get('Retry-After') * 1e3 || 0, // honour Retry-After (seconds)
    Math.min(6e4, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2)); // jittered backoff
  retryAt = Date.now() + wait;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    retryAt = 0; // a timer may fire a little early: never strand the queue
    send(1);
  }, wait);
  log(`delivery failed (${response?.status || response}); retrying in ${wait | 0} ms`);
}

// POST one batch; 2xx and 4xx settle it, network errors, 5xx and 429 are retried later.
async function post(batch, keepalive) {
  let r;
  try {
    // A string body goes out as text/plain: a simple request, no CORS preflight.
    r = await fetch(url, { method: 'POST', body: body(batch), keepalive });
    const data = await r.json().catch(() => ({}));
    const keep = [];
    if (r.status > 499 || r.status == 429) throw r;
    if (data.error) log(`${batch.length} events dropped: ${data.error}`);
    for (const x of data.rejected || []) {
      // Over the rate limit: that event is kept for later; any other rule: it is dropped.
      if (/^rate limit/.test(x.error)) keep.push(batch[x.index]);
      else log(`event ${batch[x.index]?.eventName} dropped: ${x.error}`);
    }
    remove(batch.filter((e) => !keep.includes(e)));
    if (keep.length) throw r;
    attempt = 0;
  } catch (e) {
    retryLater(e);
  }
}

// Send queued events: everything when `all`, otherwise while a full batch is waiting.
function send(all) {
  if (!ready || busy || !fp || !navigator.onLine || Date.now() < retryAt) return busy;
  if (queue.length < (all ? 1 : opts.batchSize)) return;
  return (busy = post(chunk(queue)).then(() => {
    busy = 0;
    return send(all);
  }));
}

// The page is going away (or into the background): hand the queue to sendBeacon, which
// outlives the page. Offline or while the server is failing, the queue stays in storage
// for the next page instead, because a beacon's answer cannot be read.
function hide() {
  if (!fp || !navigator.onLine || attempt) return;
  for (let list = queue, batch; list.length; list = list.slice(batch.length)) {
    batch = chunk(list);
    if (navigator.sendBeacon?.(url + '?beacon=1', body(batch))) remove(batch);
    else post(batch, true); // fetch keepalive; removed from storage only once answered
  }
}

function add(event) {
  if (queue.length >= opts.maxQueue) {
    queue.shift();
    log('queue full: dropped the oldest event');
  }
  queue.push(event);
  persist();
  send();
}

/** Record an event. Never throws: problems are explained in the console with `debug`. */
export function track(eventName, properties) {
  try {
    if (!W) return;
    if (typeof eventName != 'string' || !NAME.test(eventName)) {
      return log(`track(): eventName ${json(eventName)} is not 1-200 letters, digits, ` +
        'spaces, _ - . : /');
    }
    if (properties != null && (typeof properties != 'object' || Array.isArray(properties))) {
      return log(`track("${eventName}"): properties must be a plain object`);
    }
    const now = Date.now(), pv = eventName == PAGE_VIEW;
    let s = get('gk_s');
    if (!s || now - s.last > SESSION_MS) s = { id: uuid(), start: now, pv: 0 };
    s.last = now;
    s.pv += pv;
    set('gk_s', s);
    const event = {
      id: uuid(),
      eventName,
      properties: properties && JSON.parse(json(properties)), // a snapshot, JSON-safe
      timestamp: now,
      sessionId: s.id,
      context: {
        url: location.href, referrer: document.referrer, title: document.title,
        viewport: innerWidth + 'x' + innerHeight, sessionDuration: now - s.start,
        pageViews: s.pv,
      },
    };
    if (new Blob([json(event)]).size > 32e3) {
      return log(`track("${eventName}"): the event is over the 32 KB limit`);
    }
    add(event);
  } catch (e) {
    log(`track("${eventName}") failed:`, e); // e.g. circular properties
  }
}

/** Send every queued event now; resolves when the attempt is over. */
export const flush = () => Promise.resolve(send(1));

function pageView(force) {
  const path = location.pathname;
  if (force || path != lastPath) track(PAGE_VIEW, { path: (lastPath = path) });
}

/** Start tracking; see growthkit.d.ts for the options. A second call is ignored. */
export function init(options) {
  try {
    if (!W || ready) return ready && log('init() was already called; ignored');
    Object.assign(opts, options);
    const key = opts.publicKey;
    if (/^sk_/.test(key)) {
      return console.error('[growthkit] a secret key (sk_…) must never be in a web page');
    }
    if (!/^pk_/.test(key)) return log(`init(): publicKey ${key} is not a pk_… key`);
    url = (opts.apiUrl || '').replace(/\/+$/, '') + '/api/v1/track';
    ready = 1;
    // Adopt the queues that earlier pages (a reload, a closed tab) left unsent.
    const prefix = 'gk_q.' + key + '.', adopted = [];
    try {
      for (let i = localStorage.length; i--;) {
        const k = localStorage.key(i);
        if (k.startsWith(prefix)) adopted.push(...(get(k) || [])), localStorage.removeItem(k);
      }
    } catch {}
    qKey = prefix + uuid();
    queue = adopted.concat(queue).slice(-opts.maxQueue);
    persist();
    const f = opts.fingerprint;
    // A fingerprint function may throw or reject: the default id stands in.
    new Promise((resolve) => resolve(typeof f == 'function' ? f() : f)).catch(() => 0).then((v) => {
      gotFp((fp = v || defaultFingerprint()));
      send(adopted.length);
    });
    setInterval(() => send(1), opts.flushInterval);
    addEventListener('online', () => {
      attempt = retryAt = 0;
      send(1);
    });
    document.addEventListener('visibilitychange', () => document.hidden && hide());
    addEventListener('pagehide', hide);
    if (opts.autoPageViews) {
      for (const m of ['pushState', 'replaceState']) {
        const original = history[m];
        history[m] = function () {
          const result = original.apply(this, arguments);
          pageView();
          return result;
        };
      }
      addEventListener('popstate', () => pageView());
      addEventListener('pageshow', (e) => e.persisted && pageView(1)); // back from bfcache
      pageView();
    }
  } catch (e) {
    log('init() failed:', e);
  }
}

/** Spend credits for an action (server: POST /api/v1/actions/complete); rejects on errors. */
export async function completeAction(action, options) {
  await fpReady;
  const r = await fetch(url.replace(/track$/, 'actions/complete'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: json({ key: opts.publicKey, fingerprint: fp, action, id: options?.id || uuid() }),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.error || 'HTTP ' + r.status), { status: r.status });
  return data;
}

/** The lead's fingerprint once known (after init). */
export const fingerprint = () => fpReady;

// <script type="module" src=".../growthkit.js" data-key="pk_…" data-api="…">: start by itself.
if (W) {
  for (const s of document.querySelectorAll('script[data-key]')) {
    if (s.src == import.meta.url) {
      W.growthkit = { init, track, flush, completeAction, fingerprint };
      init({ publicKey: s.dataset.key, apiUrl: s.dataset.api || new URL(s.src).origin,
        autoPageViews: s.dataset.pageViews != 'false', debug: 'debug' in s.dataset });
    }
  }
}
