// plugindev export discovery (see SPEC.md section 2, "Export discovery").
//
// Usage:   cd <dir whose node_modules holds the packages> && node discover.mjs < request.json
// Input:   {"specifiers": ["react", ...], "lexer": "/abs/path/es-module-lexer/dist/lexer.js" | null,
//           "timeout_ms": 60000 (optional, per-specifier import timeout)}
// Output:  one JSON object on stdout:
//          {"results": {"<spec>": {"method": "import"|"static"|"failed", "names": [...],
//                                  "version": "x.y.z"|null, "error": "..."|null}}}
//          For "static", `error` holds the reason the import failed (why the fallback was used);
//          for "failed", the reason static parsing failed as well.
// Bare specifiers are resolved as if imported from a module located in process.cwd(), not from this
// script's own location, so the script may live anywhere (e.g. inside an installed wheel).
//
// Step 1: install a minimal browser-like global, then import all specifiers concurrently.
// Step 2: for a specifier whose import failed, statically parse its browser/ESM entry with
//         es-module-lexer, following `export * from` recursively.
// Everything a package prints while loading goes to stderr; stdout carries only the JSON result.

import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const stdoutWrite = process.stdout.write.bind(process.stdout);
// Anything written to stdout by imported packages (console.log, direct writes) goes to stderr.
process.stdout.write = (chunk, encoding, cb) => process.stderr.write(chunk, encoding, cb);

const originalEmitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  if (type === 'ExperimentalWarning' || warning?.name === 'ExperimentalWarning') return;
  return originalEmitWarning.call(process, warning, ...rest);
};
// Asynchronous side effects of imported packages must not kill the run.
process.on('uncaughtException', (e) => process.stderr.write(`discover: uncaught exception ignored: ${shortError(e)}\n`));
process.on('unhandledRejection', (e) => process.stderr.write(`discover: unhandled rejection ignored: ${shortError(e)}\n`));

const CWD = process.cwd();
const DROP = new Set(['default', '__esModule', 'module.exports']);

function shortError(e) {
  if (e === null || e === undefined) return String(e);
  const msg = String(e && e.message !== undefined ? e.message : e).split('\n')[0].trim();
  const code = e && typeof e.code === 'string' && !msg.includes(e.code) ? `${e.code}: ` : '';
  const s = `${code}${msg}` || (e && e.name) || 'error';
  return s.length > 300 ? `${s.slice(0, 297)}...` : s;
}

function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; } // UTF-16 code unit order (C locale)

// ---------------------------------------------------------------------------------------------------
// Minimal browser-like global. `window` and `self` are globalThis (unknown window properties stay
// undefined, as in a browser); `document`, elements and a few objects are forgiving Proxy stubs that
// accept any property access / call / construction. Stubs are never thenable.

function makeStub(fixed = {}) {
  const store = new Map(Object.entries(fixed));
  const target = function stub() {};
  return new Proxy(target, {
    get(t, p) {
      if (store.has(p)) return store.get(p);
      switch (p) {
        case 'then': return undefined; // never thenable (await / Promise.resolve must not hang)
        case Symbol.toPrimitive: return (hint) => (hint === 'number' ? 0 : '');
        case 'toString': case 'toJSON': return () => '';
        case 'valueOf': return () => 0;
        case Symbol.iterator: return function* () {};
        case Symbol.toStringTag: return 'Object';
        case 'length': return 0;
        case 'prototype': return t.prototype;
      }
      if (typeof p === 'symbol') return undefined;
      const s = makeStub();
      store.set(p, s);
      return s;
    },
    set(t, p, v) { store.set(p, v); return true; },
    has(t, p) { return store.has(p); },
    deleteProperty(t, p) { store.delete(p); return true; },
    apply() { return makeStub(); },
    construct() { return makeStub(); },
  });
}

function installBrowserGlobals() {
  const g = globalThis;
  const noop = () => {};
  const define = (name, value, force = false) => {
    if (!force && name in g) return;
    try {
      Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: true });
    } catch { /* keep Node's own */ }
  };
  const makeElement = (tag = 'div') => makeStub({
    tagName: String(tag).toUpperCase(), nodeName: String(tag).toUpperCase(), nodeType: 1,
    style: makeStub(), dataset: {}, childNodes: [], children: [], classList: makeStub(),
    textContent: '', innerHTML: '', parentNode: null, parentElement: null, firstChild: null,
    getAttribute: () => null, hasAttribute: () => false, querySelector: () => null,
    querySelectorAll: () => [], getElementsByTagName: () => [], getBoundingClientRect: () => ({
      x: 0, y: 0, top: 0, left: 0, right: 0, bottom: 0, width: 0, height: 0,
    }),
  });
  const mediaQueryList = (query) => ({
    matches: false, media: String(query), onchange: null,
    addListener: noop, removeListener: noop, addEventListener: noop, removeEventListener: noop,
    dispatchEvent: () => false,
  });
  const url = new URL('http://localhost/');
  const location = {
    href: url.href, protocol: url.protocol, host: url.host, hostname: url.hostname, port: url.port,
    pathname: url.pathname, search: '', hash: '', origin: url.origin,
    assign: noop, replace: noop, reload: noop, toString: () => url.href,
  };
  const storage = () => {
    const m = new Map();
    return {
      getItem: (k) => (m.has(String(k)) ? m.get(String(k)) : null),
      setItem: (k, v) => { m.set(String(k), String(v)); },
      removeItem: (k) => { m.delete(String(k)); }, clear: () => m.clear(),
      key: (i) => [...m.keys()][i] ?? null, get length() { return m.size; },
    };
  };
  const documentElement = makeElement('html');
  const head = makeElement('head');
  const body = makeElement('body');
  const document = makeStub({
    nodeType: 9, readyState: 'complete', cookie: '', referrer: '', title: '', visibilityState: 'visible',
    hidden: false, documentElement, head, body, defaultView: g, location,
    createElement: (tag) => makeElement(tag), createElementNS: (ns, tag) => makeElement(tag),
    createTextNode: (text) => makeStub({ nodeType: 3, textContent: String(text) }),
    createDocumentFragment: () => makeElement('#document-fragment'),
    createComment: () => makeStub({ nodeType: 8 }),
    getElementById: () => null, querySelector: () => null, querySelectorAll: () => [],
    getElementsByTagName: () => [], getElementsByClassName: () => [],
    addEventListener: noop, removeEventListener: noop, dispatchEvent: () => true,
  });
  class HTMLElement {}
  class Element {}
  class DomNode {}
  class Observer { observe() {} unobserve() {} disconnect() {} takeRecords() { return []; } }

  define('window', g, true);
  define('self', g, true);
  define('document', document, true);
  define('navigator', {
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    platform: 'Linux x86_64', vendor: 'Google Inc.', language: 'en-US', languages: ['en-US'],
    appVersion: '5.0', onLine: true, maxTouchPoints: 0, hardwareConcurrency: 1, cookieEnabled: true,
    clipboard: makeStub(), userAgentData: undefined,
  }, true);
  define('location', location);
  define('history', makeStub({ length: 1, state: null }));
  define('screen', { width: 1024, height: 768, availWidth: 1024, availHeight: 768, colorDepth: 24 });
  define('localStorage', storage());
  define('sessionStorage', storage());
  define('innerWidth', 1024); define('innerHeight', 768); define('devicePixelRatio', 1);
  define('addEventListener', noop); define('removeEventListener', noop);
  define('matchMedia', mediaQueryList);
  define('getComputedStyle', () => makeStub({ getPropertyValue: () => '' }));
  define('getSelection', () => null);
  define('scrollTo', noop); define('scroll', noop); define('alert', noop); define('open', () => null);
  define('requestAnimationFrame', (cb) => setTimeout(() => cb(Date.now()), 16));
  define('cancelAnimationFrame', (id) => clearTimeout(id));
  define('requestIdleCallback', (cb) => setTimeout(() => cb({ didTimeout: false, timeRemaining: () => 0 }), 1));
  define('cancelIdleCallback', (id) => clearTimeout(id));
  define('HTMLElement', HTMLElement); define('Element', Element); define('Node', DomNode);
  for (const name of ['SVGElement', 'HTMLDivElement', 'HTMLInputElement', 'HTMLTextAreaElement',
    'HTMLIFrameElement', 'HTMLAnchorElement', 'HTMLCanvasElement', 'HTMLImageElement', 'HTMLStyleElement',
    'DocumentFragment', 'ShadowRoot', 'Text', 'Image', 'DOMParser', 'XMLHttpRequest', 'Worker']) {
    define(name, class extends HTMLElement {});
  }
  define('ResizeObserver', Observer); define('MutationObserver', Observer);
  define('IntersectionObserver', Observer);
  define('customElements', { define: noop, get: () => undefined, whenDefined: () => new Promise(noop) });
  define('CSS', { supports: () => false, escape: (s) => String(s) });
}

// ---------------------------------------------------------------------------------------------------
// Package resolution (used for the version, for CommonJS detection and for the static fallback).

const jsonCache = new Map();
function readJson(file) {
  if (!jsonCache.has(file)) {
    let v = null;
    try { v = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { v = null; }
    jsonCache.set(file, v);
  }
  return jsonCache.get(file);
}

function isFile(p) { try { return fs.statSync(p).isFile(); } catch { return false; } }
function isDir(p) { try { return fs.statSync(p).isDirectory(); } catch { return false; } }

function splitBare(spec) {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  if (parts.length < n || parts.slice(0, n).some((x) => !x)) return null;
  const name = parts.slice(0, n).join('/');
  const rest = parts.slice(n).join('/');
  return { name, subpath: rest ? `./${rest}` : '.' };
}

function findPackageDir(name, fromDir) {
  let dir = fromDir;
  for (;;) {
    if (path.basename(dir) !== 'node_modules') {
      const cand = path.join(dir, 'node_modules', name);
      if (isFile(path.join(cand, 'package.json'))) return fs.realpathSync(cand);
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function nearestPackageJson(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (isFile(pj)) return { dir, json: readJson(pj) || {} };
    const parent = path.dirname(dir);
    if (parent === dir || path.basename(dir) === 'node_modules') return null;
    dir = parent;
  }
}

function patternKeyCompare(a, b) { // Node's PATTERN_KEY_COMPARE: negative = a first
  const aStar = a.indexOf('*');
  const bStar = b.indexOf('*');
  const baseA = aStar === -1 ? a.length : aStar + 1;
  const baseB = bStar === -1 ? b.length : bStar + 1;
  if (baseA !== baseB) return baseB - baseA;
  if (aStar === -1) return 1;
  if (bStar === -1) return -1;
  return b.length - a.length;
}

function resolveTarget(pkgDir, target, match, conds) {
  if (typeof target === 'string') {
    if (!target.startsWith('./')) return null;
    return path.join(pkgDir, match === null ? target : target.replaceAll('*', match));
  }
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = resolveTarget(pkgDir, t, match, conds);
      if (r) return r;
    }
    return null;
  }
  if (target && typeof target === 'object') {
    for (const [k, v] of Object.entries(target)) {
      if (k === 'default' || conds.has(k)) {
        const r = resolveTarget(pkgDir, v, match, conds);
        if (r) return r;
      }
    }
  }
  return null;
}

// Resolve `subpath` ('.', './x', or '#x') through an exports/imports map.
function resolveMap(pkgDir, map, subpath, conds) {
  if (typeof map === 'string' || Array.isArray(map)
      || (map && typeof map === 'object' && !Object.keys(map).some((k) => k.startsWith('.') || k.startsWith('#')))) {
    map = { '.': map };
  }
  if (!map || typeof map !== 'object') return null;
  if (Object.hasOwn(map, subpath) && !subpath.includes('*')) return resolveTarget(pkgDir, map[subpath], null, conds);
  let bestKey = null;
  let bestMatch = null;
  for (const key of Object.keys(map)) {
    const star = key.indexOf('*');
    if (star === -1 || key.indexOf('*', star + 1) !== -1) continue;
    const base = key.slice(0, star);
    const trailer = key.slice(star + 1);
    if (subpath.startsWith(base) && subpath !== base && subpath.length >= key.length && subpath.endsWith(trailer)
        && (bestKey === null || patternKeyCompare(bestKey, key) > 0)) {
      bestKey = key;
      bestMatch = subpath.slice(base.length, subpath.length - trailer.length);
    }
  }
  return bestKey === null ? null : resolveTarget(pkgDir, map[bestKey], bestMatch, conds);
}

const EMPTY = Symbol('empty module'); // a `browser` field mapped the file to `false`

function applyBrowserMap(pkgDir, pj, file, opts) {
  if (!opts.browserField || !pj || !pj.browser || typeof pj.browser !== 'object') return file;
  const rel = `./${path.relative(pkgDir, file).split(path.sep).join('/')}`;
  for (const key of [rel, rel.replace(/\.(m?js|cjs)$/, '')]) {
    if (Object.hasOwn(pj.browser, key)) {
      const v = pj.browser[key];
      if (v === false) return EMPTY;
      if (typeof v === 'string') return path.join(pkgDir, v);
    }
  }
  return file;
}

// File probing as done by bundlers (and CommonJS): exact, extensions, directory (package.json, index).
function probeFile(p, opts) {
  if (isFile(p)) return p;
  for (const ext of ['.js', '.mjs', '.cjs', '.jsx']) if (isFile(p + ext)) return p + ext;
  if (isDir(p)) {
    const pj = readJson(path.join(p, 'package.json'));
    if (pj) {
      for (const field of opts.fields) {
        if (typeof pj[field] === 'string') {
          const r = probeFile(path.join(p, pj[field]), opts);
          if (r) return r;
        }
      }
    }
    for (const idx of ['index.js', 'index.mjs', 'index.cjs']) if (isFile(path.join(p, idx))) return path.join(p, idx);
  }
  return null;
}

// Resolve a bare specifier from `fromDir`. Returns {file, pkgDir, version} or throws.
function resolveBare(spec, fromDir, opts) {
  const parsed = splitBare(spec);
  if (!parsed) throw new Error(`invalid package specifier '${spec}'`);
  const pkgDir = findPackageDir(parsed.name, fromDir);
  if (!pkgDir) throw new Error(`cannot find package '${parsed.name}' from ${fromDir}`);
  const pj = readJson(path.join(pkgDir, 'package.json')) || {};
  const version = typeof pj.version === 'string' ? pj.version : null;
  let file = null;
  if (pj.exports !== undefined && pj.exports !== null) {
    const target = resolveMap(pkgDir, pj.exports, parsed.subpath, opts.conds);
    if (!target) throw new Error(`'${parsed.subpath}' is not exported by ${parsed.name} for conditions [${[...opts.conds]}]`);
    file = isFile(target) ? target : null;
    if (!file) throw new Error(`${parsed.name} exports '${parsed.subpath}' as a missing file ${target}`);
  } else if (parsed.subpath === '.') {
    for (const field of opts.fields) {
      if (typeof pj[field] === 'string' && (file = probeFile(path.join(pkgDir, pj[field]), opts))) break;
    }
    file = file || probeFile(path.join(pkgDir, 'index'), opts);
  } else {
    file = probeFile(path.join(pkgDir, parsed.subpath), opts);
  }
  if (!file) throw new Error(`cannot resolve '${spec}' in ${pkgDir}`);
  return { file: applyBrowserMap(pkgDir, pj, file, opts), pkgDir, version };
}

function resolveFrom(spec, fromFile, opts) {
  if (spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..' || spec.startsWith('/')
      || spec.startsWith('file:')) {
    const p = spec.startsWith('file:') ? new URL(spec).pathname : path.resolve(path.dirname(fromFile), spec);
    const file = probeFile(decodeURIComponent(p.split('?')[0]), opts);
    if (!file) throw new Error(`cannot resolve '${spec}' from ${fromFile}`);
    const near = nearestPackageJson(file);
    return near && near.json.name ? applyBrowserMap(near.dir, near.json, file, opts) : file;
  }
  if (spec.startsWith('#')) {
    let near = nearestPackageJson(fromFile);
    while (near && !near.json.imports && !near.json.name) near = nearestPackageJson(near.dir);
    const target = near && near.json.imports ? resolveMap(near.dir, near.json.imports, spec, opts.conds) : null;
    if (!target || !isFile(target)) throw new Error(`cannot resolve '${spec}' from ${fromFile}`);
    return target;
  }
  return resolveBare(spec, path.dirname(fromFile), opts).file;
}

const NODE_OPTS = {
  conds: new Set(['node', 'import', ...(process.features && process.features.require_module ? ['module-sync'] : [])]),
  fields: ['main'],
  browserField: false,
};
const BROWSER_OPTS = {
  conds: new Set(['browser', 'import', 'module', 'development']),
  fields: ['module', 'browser', 'main'],
  browserField: true,
};

// ---------------------------------------------------------------------------------------------------
// Step 1: import.

function makeImporter() {
  // A script whose filename lies in cwd, using the main ESM loader: bare specifiers in its dynamic
  // import() resolve exactly as from a module in cwd (Node >= 20.12 / 21.7).
  const loader = vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  if (loader) {
    const script = new vm.Script('(specifier) => import(specifier)', {
      filename: path.join(CWD, '__plugindev_discover__.mjs'),
      importModuleDynamically: loader,
    });
    return script.runInThisContext();
  }
  // Older Node: resolve with our own resolver (Node conditions) and import the file URL.
  return (spec) => {
    if (spec.startsWith('node:')) return import(spec);
    return import(pathToFileURL(resolveBare(spec, CWD, NODE_OPTS).file).href);
  };
}

function withTimeout(promise, ms, spec) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`import of '${spec}' did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isCommonJsFile(file) {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  const near = nearestPackageJson(file);
  return !(near && near.json.type === 'module');
}

function namesFromNamespace(spec, ns, requireCache) {
  const names = new Set();
  for (const k of Reflect.ownKeys(ns)) if (typeof k === 'string') names.add(k); // no [[Get]]: no TDZ errors
  let moduleExports;
  let hasModuleExports = false;
  if (names.has('module.exports')) { // newer Node: CommonJS namespaces expose 'module.exports'
    moduleExports = ns['module.exports'];
    hasModuleExports = true;
  } else {
    let file = null;
    try { file = resolveBare(spec, CWD, NODE_OPTS).file; } catch { file = null; }
    if (file && requireCache[file]) {
      moduleExports = requireCache[file].exports;
      hasModuleExports = true;
    } else if (file && isCommonJsFile(file) && names.has('default')) {
      moduleExports = ns.default;
      hasModuleExports = true;
    }
  }
  if (hasModuleExports && moduleExports !== null
      && (typeof moduleExports === 'object' || typeof moduleExports === 'function')) {
    for (const k of Object.keys(moduleExports)) names.add(k); // cjs-module-lexer misses some
  }
  return names;
}

// ---------------------------------------------------------------------------------------------------
// Step 2: static parse of the browser/ESM entry with es-module-lexer.

async function loadLexer(lexerPath, importer) {
  let mod;
  if (lexerPath) {
    mod = await import(pathToFileURL(lexerPath).href);
  } else {
    try { mod = await importer('es-module-lexer'); } catch { mod = await import('es-module-lexer'); }
  }
  await mod.init;
  return mod;
}

function staticNames(spec, lexer) {
  const { file: entry } = resolveBare(spec, CWD, BROWSER_OPTS);
  if (entry === EMPTY) throw new Error(`browser field maps '${spec}' to an empty module`);
  if (!/\.(m?js|cjs|jsx)$/.test(entry)) throw new Error(`entry ${path.basename(entry)} is not a JavaScript module`);
  const names = new Set();
  const warnings = [];
  const visited = new Set();
  const visit = (file, includeDefault, depth) => {
    if (file === EMPTY || visited.has(file)) return;
    visited.add(file);
    const source = fs.readFileSync(file, 'utf8');
    const [imports, exports, , hasModuleSyntax] = lexer.parse(source, file);
    if (depth === 0 && hasModuleSyntax === false) throw new Error(`entry ${file} has no ES module syntax`);
    for (const e of exports) if (e.n && (includeDefault || e.n !== 'default')) names.add(e.n);
    for (const imp of imports) {
      if (imp.d !== -1 || !imp.n) continue; // static imports only
      if (!/^export\s*\*\s*from\b/.test(source.slice(imp.ss, imp.se))) continue; // `export * from`, not `* as`
      try {
        visit(resolveFrom(imp.n, file, BROWSER_OPTS), false, depth + 1);
      } catch (e) {
        warnings.push(`export * from '${imp.n}' in ${file}: ${shortError(e)}`);
      }
    }
  };
  visit(entry, true, 0);
  return { names, warnings };
}

// ---------------------------------------------------------------------------------------------------

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function finish(obj, code = 0) {
  stdoutWrite(`${JSON.stringify(obj)}\n`, () => process.exit(code));
}

async function main() {
  let request;
  try {
    request = JSON.parse(await readStdin());
    if (!request || !Array.isArray(request.specifiers)) throw new Error('expected {"specifiers": [...]}');
  } catch (e) {
    process.stderr.write(`discover: bad request on stdin: ${shortError(e)}\n`);
    process.exit(2);
  }
  const specifiers = [...new Set(request.specifiers.map(String))];
  const timeoutMs = Number(request.timeout_ms) > 0 ? Number(request.timeout_ms) : 60000;
  const started = performance.now();

  installBrowserGlobals();
  const importer = makeImporter();
  const requireCache = createRequire(path.join(CWD, '__plugindev_discover__.cjs')).cache;

  const settled = await Promise.allSettled(
    specifiers.map((spec) => withTimeout(Promise.resolve().then(() => importer(spec)), timeoutMs, spec)),
  );
  const tImport = performance.now();

  const results = {};
  let lexer = null;
  let lexerError = null;
  for (let i = 0; i < specifiers.length; i++) {
    const spec = specifiers[i];
    let version = null;
    try { version = resolveBare(spec, CWD, NODE_OPTS).version; } catch {
      try { version = resolveBare(spec, CWD, BROWSER_OPTS).version; } catch { version = null; }
    }
    if (version === null) {
      const parsed = splitBare(spec);
      const dir = parsed && findPackageDir(parsed.name, CWD);
      const pj = dir && readJson(path.join(dir, 'package.json'));
      version = pj && typeof pj.version === 'string' ? pj.version : null;
    }
    const s = settled[i];
    if (s.status === 'fulfilled') {
      let names;
      try {
        names = namesFromNamespace(spec, s.value, requireCache);
      } catch (e) {
        results[spec] = { method: 'failed', names: [], version, error: `reading exports: ${shortError(e)}` };
        continue;
      }
      results[spec] = { method: 'import', names: [...names].filter((n) => !DROP.has(n)).sort(cmp), version, error: null };
      continue;
    }
    const importError = shortError(s.reason);
    process.stderr.write(`discover: import of '${spec}' failed (${importError}); trying static parse\n`);
    if (!lexer && !lexerError) {
      try { lexer = await loadLexer(request.lexer, importer); } catch (e) { lexerError = `es-module-lexer unavailable: ${shortError(e)}`; }
    }
    if (!lexer) {
      results[spec] = { method: 'failed', names: [], version, error: `import: ${importError}; static: ${lexerError}` };
      continue;
    }
    try {
      const { names, warnings } = staticNames(spec, lexer);
      for (const w of warnings) process.stderr.write(`discover: ${spec}: ${w}\n`);
      results[spec] = {
        method: 'static', names: [...names].filter((n) => !DROP.has(n)).sort(cmp), version, error: `import: ${importError}`,
      };
    } catch (e) {
      results[spec] = { method: 'failed', names: [], version, error: `import: ${importError}; static: ${shortError(e)}` };
    }
  }
  const t = (x) => `${((x - started) / 1000).toFixed(2)}s`;
  process.stderr.write(`discover: ${specifiers.length} specifiers, imports ${t(tImport)}, total ${t(performance.now())}\n`);
  finish({ results });
}

main().catch((e) => {
  process.stderr.write(`discover: internal error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
