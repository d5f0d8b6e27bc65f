// Browser proof of the UI dev loop: a real host page (see host.js) in headless Chromium loads a dev plugin
// from its Vite server like the Omniview IDE does, then this script edits the plugin's page file and measures
// write → DOM latency of Fast Refresh, checking that React state survives and the page never reloads.
//
//   node hmr_check.mjs '<json>'   or   node hmr_check.mjs args.json
//
// Arguments (JSON object):
//   vitePort      (required) port of the plugin's Vite dev server on 127.0.0.1
//   pageFile      (required) absolute path of the component file to edit (the scaffold's HomePage.tsx)
//   rounds        number of edits (default 3)
//   output        path of the JSON result (also printed on stdout as the last line)
//   hostDir       folder with node_modules/ (playwright-core) and dist/ (the built host page); default: here
//   distDir       the built host page (default hostDir/dist)
//   pageUrl       URL path of pageFile on the dev server (default: its path under the nearest package.json)
//   entry         the plugin entry (default /src/entry.ts)
//   chromium      browser executable (default /usr/bin/chromium)
//   hostPort      port of the host page on 127.0.0.1 (default: a free one); a scaffolded plugin's Vite lets the
//                 page in only when PLUGINDEV_CORS_ORIGINS names its origin
//   roundTimeoutMs (default 10000), timeoutMs overall (default 120000), clicks (default 3)
//   writeGapMs    ms between each save's truncation of the file and its write (default 0: one writeFileSync);
//                 a save in place as a watcher can see it on a busy machine: empty first
//
// Result: { ok, counterAfter, reloaded, sameUseState, latenciesMs, p50, p95, frameLatenciesMs, errors,
//           failures, sharedModules, hostTrace, hintVisible, ... }. Exit code 0 when ok, 1 otherwise.
// The page file is always restored to its original text.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

function readArgs() {
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: node hmr_check.mjs <json | args.json>');
  const text = raw.trimStart().startsWith('{') ? raw : fs.readFileSync(raw, 'utf8');
  const args = JSON.parse(text);
  if (!Number.isInteger(args.vitePort)) throw new Error('vitePort (integer) is required');
  if (typeof args.pageFile !== 'string' || !path.isAbsolute(args.pageFile)) {
    throw new Error('pageFile (absolute path) is required');
  }
  const hostDir = path.resolve(args.hostDir ?? here);
  return {
    rounds: 3, clicks: 3, entry: '/src/entry.ts', chromium: '/usr/bin/chromium', roundTimeoutMs: 10000,
    timeoutMs: 120000, writeGapMs: 0, ...args, hostDir,
    distDir: path.resolve(args.distDir ?? path.join(hostDir, 'dist')),
  };
}

function viteRootOf(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${file}`);
  }
}

function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Saves `text` in place as an editor does: truncates the file, then writes it, `gapMs` later. */
async function saveInPlace(file, text, gapMs) {
  if (gapMs <= 0) {
    fs.writeFileSync(file, text);
    return;
  }
  const fd = fs.openSync(file, 'w'); // truncates
  try {
    await sleep(gapMs);
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };

/** A static server for the built host page on 127.0.0.1:`port` (0: a free one). */
function serveHost(distDir, port) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = path.resolve(distDir, '.' + rel);
    if (!file.startsWith(distDir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store',
    });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const HINT = /(<p data-testid="hint">)([\s\S]*?)(<\/p>)/;

async function main() {
  const args = readArgs();
  const started = Date.now();
  const result = {
    ok: false, vitePort: args.vitePort, pageFile: args.pageFile, rounds: args.rounds, counterAfter: null,
    reloaded: null, sameUseState: null, latenciesMs: [], frameLatenciesMs: [], p50: null, p95: null,
    hintVisible: [], errors: [], failures: [], sharedModules: {}, hostTrace: null, loads: 0, durationMs: null,
  };
  const fail = (msg) => result.failures.push(msg);
  const origin = `http://127.0.0.1:${args.vitePort}`;
  const pageUrl = args.pageUrl ?? '/' + path.relative(viteRootOf(args.pageFile), args.pageFile).split(path.sep).join('/');
  const original = fs.readFileSync(args.pageFile, 'utf8');
  if (!HINT.test(original)) throw new Error(`${args.pageFile} has no <p data-testid="hint">…</p>`);
  const originalHint = original.match(HINT)[2];

  const require = createRequire(path.join(args.hostDir, 'package.json'));
  const { chromium } = require('playwright-core');
  let browser = null;
  let server = null;
  let written = false;
  let finished = false;
  const overall = setTimeout(() => {
    fail(`overall timeout of ${args.timeoutMs} ms`);
    finish(1);
  }, args.timeoutMs);
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      fail(`stopped by ${signal}`);
      finish(1);
    });
  }

  async function finish(code) {
    if (finished) return;
    finished = true;
    clearTimeout(overall);
    if (written) fs.writeFileSync(args.pageFile, original);
    result.durationMs = Date.now() - started;
    result.ok = code === 0 && result.failures.length === 0 && result.errors.length === 0;
    const text = JSON.stringify(result, null, 2);
    if (args.output) fs.writeFileSync(args.output, text + '\n');
    console.log(JSON.stringify(result));
    try {
      await browser?.close();
    } catch { /* already gone */ }
    server?.close();
    process.exit(result.ok ? 0 : 1);
  }

  try {
    server = await serveHost(args.distDir, args.hostPort ?? 0);
    const hostUrl = `http://127.0.0.1:${server.address().port}/index.html?vite=${args.vitePort}` +
      `&entry=${encodeURIComponent(args.entry)}`;
    browser = await chromium.launch({
      executablePath: args.chromium, headless: true, args: CHROMIUM_ARGS, handleSIGTERM: false, handleSIGINT: false,
    });
    const page = await browser.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') result.errors.push(msg.text());
    });
    page.on('pageerror', (err) => result.errors.push(`pageerror: ${err.message}`));
    page.on('load', () => { result.loads += 1; });

    await page.goto(hostUrl);
    await page.waitForFunction(() => window.__hostReady || window.__hostError, null, { timeout: 30000 });
    const hostError = await page.evaluate(() => window.__hostError ?? null);
    if (hostError) throw new Error(`host page failed: ${hostError}`);
    result.hostTrace = await page.evaluate(() => window.__hostTrace);

    // State that Fast Refresh must keep.
    const counter = page.locator('[data-testid="counter"]');
    await counter.waitFor({ timeout: 10000 });
    for (let i = 0; i < args.clicks; i++) await counter.click();
    const clicked = `Clicked ${args.clicks} times`;
    await page.waitForFunction((want) => document.querySelector('[data-testid="counter"]')?.textContent === want,
      clicked, { timeout: 5000 });
    await page.evaluate(() => { window.__noReload = 1; });

    // Is the plugin's React the host's? Import the shims the served page and entry modules import, compare.
    const shared = await page.evaluate(async ({ origin, pageUrl, entry }) => {
      const src = await (await fetch(origin + pageUrl)).text();
      const entrySrc = await (await fetch(origin + entry)).text();
      const out = { modules: {}, useStateShim: null };
      const useState = src.match(/import\s*\{[^}]*\buseState\b[^}]*\}\s*from\s*["']([^"']+)["']/);
      out.useStateShim = useState ? new URL(useState[1], origin).href : null;
      const urls = [...(src + '\n' + entrySrc).matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((m) => m[1])
        .filter((u) => u.includes('/shims/'));
      for (const u of new Set(urls)) {
        const href = new URL(u, origin).href;
        const shimSrc = await (await fetch(href)).text();
        const spec = shimSrc.match(/__OMNIVIEW_SHARED__\?\.\[("(?:[^"\\]|\\.)*")\]/);
        const name = spec ? JSON.parse(spec[1]) : null;
        const shim = await import(href);
        const host = name === null ? undefined : window.__OMNIVIEW_SHARED__[name];
        const mismatched = host === undefined ? ['<no host module>'] : Object.keys(shim)
          .filter((k) => k !== 'default' && shim[k] !== undefined && shim[k] !== host[k]);
        out.modules[name ?? href] = { url: href, exports: Object.keys(shim).length, mismatched };
      }
      if (out.useStateShim) {
        const shim = await import(out.useStateShim);
        out.sameUseState = typeof shim.useState === 'function'
          && shim.useState === window.__OMNIVIEW_SHARED__.react.useState
          && shim.useState === window.__hostReact.useState;
      } else {
        out.sameUseState = false;
      }
      return out;
    }, { origin, pageUrl, entry: args.entry });
    result.sharedModules = shared.modules;
    result.sameUseState = shared.sameUseState;
    if (!shared.sameUseState) fail(`the plugin's useState (${shared.useStateShim}) is not the host's`);
    for (const [name, info] of Object.entries(shared.modules)) {
      if (info.mismatched.length) fail(`shim ${name} differs from the host module: ${info.mismatched.join(', ')}`);
    }

    await page.evaluate(() => {
      window.__armHint = (expected, timeoutMs) => {
        window.__hintWait = new Promise((resolve) => {
          let done = false;
          const root = document.getElementById('root');
          const seen = () => document.querySelector('[data-testid="hint"]')?.textContent === expected;
          const finish = (value) => {
            if (done) return;
            done = true;
            observer.disconnect();
            clearTimeout(timer);
            resolve(value);
          };
          const hit = () => {
            const dom = Date.now();
            requestAnimationFrame(() => finish({ dom, frame: Date.now() }));
          };
          const observer = new MutationObserver(() => { if (!done && seen()) hit(); });
          observer.observe(root, { subtree: true, childList: true, characterData: true });
          const timer = setTimeout(() => finish({ timeout: true,
            text: document.querySelector('[data-testid="hint"]')?.textContent ?? null }), timeoutMs);
          if (seen()) hit();
        });
      };
    });

    const nonce = `${process.pid}-${Date.now().toString(36)}`;
    let current = original;
    for (let round = 1; round <= args.rounds; round++) {
      const text = `HMR round ${round} ${nonce}`;
      const next = current.replace(HINT, (_, open, _old, close) => open + text + close);
      await page.evaluate(({ text, ms }) => window.__armHint(text, ms), { text, ms: args.roundTimeoutMs });
      const t0 = Date.now();
      written = true;
      await saveInPlace(args.pageFile, next, args.writeGapMs);
      current = next;
      const seen = await page.evaluate(() => window.__hintWait);
      if (seen.timeout) {
        fail(`round ${round}: "${text}" not in the DOM after ${args.roundTimeoutMs} ms (hint: ${seen.text})`);
        result.hintVisible.push(false);
        break;
      }
      result.latenciesMs.push(seen.dom - t0);
      result.frameLatenciesMs.push(seen.frame - t0);
      const state = await page.evaluate(() => ({
        counter: document.querySelector('[data-testid="counter"]')?.textContent ?? null,
        hint: document.querySelector('[data-testid="hint"]')?.textContent ?? null,
        marker: window.__noReload ?? null,
      }));
      result.hintVisible.push(state.hint === text && await page.locator('[data-testid="hint"]').isVisible());
      result.counterAfter = state.counter;
      result.reloaded = state.marker !== 1 || result.loads !== 1;
      if (state.counter !== clicked) fail(`round ${round}: counter says ${JSON.stringify(state.counter)}`);
      if (result.reloaded) fail(`round ${round}: the page reloaded (marker ${state.marker}, loads ${result.loads})`);
      if (result.failures.length) break;
      await sleep(50);
    }
    result.p50 = percentile(result.latenciesMs, 50);
    result.p95 = percentile(result.latenciesMs, 95);

    // Put the file back and wait (bounded) for the page to follow, so nothing is mid-update when we leave.
    if (written) {
      await page.evaluate(({ text, ms }) => window.__armHint(text, ms), { text: originalHint, ms: 5000 });
      fs.writeFileSync(args.pageFile, original);
      written = false;
      const back = await page.evaluate(() => window.__hintWait);
      result.restored = !back.timeout;
    }
    result.hostTrace = await page.evaluate(() => window.__hostTrace);
    await finish(0);
  } catch (err) {
    fail(String((err && err.stack) || err));
    await finish(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
