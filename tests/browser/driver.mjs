// A headless Chromium driven line by line from Python (tests/browser_driver.py): one JSON command per stdin
// line, one JSON answer per stdout line. Commands: goto {url}, evaluate {fn, arg} (fn: a function's source,
// run in the page with arg), wait {fn, arg, timeout} (until fn(arg) is truthy; answers its value), click
// {selector}, fill {selector, value}, select {selector, value}, messages (console errors and warnings, page
// errors), close. `node driver.mjs '{"chromium": PATH, "hostDir": DIR}'`; the browser closes on stdin's end.
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const args = JSON.parse(process.argv[2]);
const require = createRequire(path.join(args.hostDir, 'package.json'));
const { chromium } = require('playwright-core');
const browser = await chromium.launch({
  executablePath: args.chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const messages = [];
page.on('console', (msg) => {
  if (msg.type() === 'error' || msg.type() === 'warning') messages.push(`${msg.type()}: ${msg.text()}`);
});
page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));

const run = (fn, arg) => page.evaluate(([src, value]) => (0, eval)(`(${src})`)(value), [fn, arg ?? null]);
const OPS = {
  goto: async ({ url }) => { await page.goto(url); return page.url(); },
  evaluate: ({ fn, arg }) => run(fn, arg),
  wait: async ({ fn, arg, timeout }) => (await page.waitForFunction(
    ([src, value]) => (0, eval)(`(${src})`)(value), [fn, arg ?? null], { timeout: timeout ?? 30000, polling: 'raf' },
  )).jsonValue(),
  click: async ({ selector }) => { await page.click(selector); return true; },
  fill: async ({ selector, value }) => { await page.fill(selector, value); return true; },
  select: async ({ selector, value }) => { await page.selectOption(selector, value); return true; },
  messages: () => messages.splice(0),
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const { op, ...rest } = JSON.parse(line);
  if (op === 'close') break;
  try {
    process.stdout.write(JSON.stringify({ ok: true, value: (await OPS[op](rest)) ?? null }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error?.message ?? error) }) + '\n');
  }
}
await browser.close();
