// Firefox through WebDriver BiDi (puppeteer-core with the system Firefox, e.g. Debian's firefox-esr; no
// download and no geckodriver: Firefox speaks BiDi itself).
import { ACTION_TIMEOUT_MS, clearField, runInPage } from './page-functions.mjs';

const LEVELS = { error: 'error', warn: 'warning' };

export async function open(args, require) {
  const puppeteer = require('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox', protocol: 'webDriverBiDi', executablePath: args.executable, headless: true,
    defaultViewport: { width: 1400, height: 900 },
  });
  const page = await browser.newPage();
  const messages = [];
  page.on('console', (msg) => {
    if (LEVELS[msg.type()]) messages.push(`${LEVELS[msg.type()]}: ${msg.text()}`);
  });
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
  // as Playwright does before acting on an element (puppeteer's actions fail at once): until the page rendered it
  const rendered = (selector) => page.waitForSelector(selector, { timeout: ACTION_TIMEOUT_MS });
  return {
    goto: async ({ url }) => { await page.goto(url); return page.url(); },
    evaluate: ({ fn, arg }) => page.evaluate(runInPage, [fn, arg ?? null]),
    wait: async ({ fn, arg, timeout }) => (await page.waitForFunction(
      runInPage, { timeout, polling: 'raf' }, [fn, arg ?? null])).jsonValue(),
    click: async ({ selector }) => {
      await rendered(selector);
      await page.click(selector);
    },
    fill: async ({ selector, value }) => {
      await rendered(selector);
      await page.evaluate(clearField, selector);
      if (value) await page.type(selector, value);
    },
    select: async ({ selector, value }) => {
      await rendered(selector);
      return page.select(selector, value);
    },
    messages: () => messages.splice(0),
    close: () => browser.close(),
  };
}
