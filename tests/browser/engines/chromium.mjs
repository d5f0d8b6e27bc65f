// Chromium through Playwright (playwright-core with the system Chromium; Playwright's own download is not used).
import { runInPage } from './page-functions.mjs';

const ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];

export async function open(args, require) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: args.executable, headless: true, args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const messages = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') messages.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
  return {
    goto: async ({ url }) => { await page.goto(url); return page.url(); },
    evaluate: ({ fn, arg }) => page.evaluate(runInPage, [fn, arg ?? null]),
    wait: async ({ fn, arg, timeout }) => (await page.waitForFunction(
      runInPage, [fn, arg ?? null], { timeout, polling: 'raf' })).jsonValue(),
    click: ({ selector }) => page.click(selector),
    fill: ({ selector, value }) => page.fill(selector, value),
    select: ({ selector, value }) => page.selectOption(selector, value),
    messages: () => messages.splice(0),
    close: () => browser.close(),
  };
}
