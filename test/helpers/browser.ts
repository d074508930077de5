/**
 * Real headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core
 * (which downloads no browser of its own).
 *
 *   const br = await launchBrowser();                 // throws (test fails) when chromium is missing
 *   const { page, problems } = await br.newPage({ width: 1280, height: 800 });
 *   await page.goto(url);
 *   assert.deepEqual(problems, []);                   // console errors, page errors, failed loads
 *   await br.close();                                 // bounded; always call it in after()
 *
 * CI installs chromium (`.ci/run`); locally: `apt-get install -y chromium`. Another binary can be
 * named with PROXYKIT_CHROMIUM.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.PROXYKIT_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface TestPage {
  page: Page;
  context: BrowserContext;
  /**
   * Everything that went wrong in the page, as readable lines: console errors, uncaught page
   * errors, failed requests, HTTP responses >= 400. Tests assert it stays empty.
   */
  problems: string[];
  /** Every console message (`type: text`), for diagnostics. */
  console: string[];
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own cookies and storage) and page, watched for problems. */
  newPage(viewport?: { width: number; height: number }): Promise<TestPage>;
  /** Close every context and the browser, bounded; never throws. */
  close(): Promise<void>;
}

export async function launchBrowser(opts: { timeoutMs?: number } = {}): Promise<TestBrowser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(
      `chromium not found at ${CHROMIUM_PATH}: the dashboard test needs a real browser. ` +
        'Install Debian\'s package (`apt-get install -y chromium`, as .ci/run does) or set PROXYKIT_CHROMIUM.',
    );
  }
  // launch() gives every run a fresh temporary profile (user-data-dir) and deletes it on close.
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ARGS,
      timeout: opts.timeoutMs ?? 30_000,
      // We pass --headless ourselves (Debian's build); playwright's own headless flags are harmless.
      headless: true,
    });
  } catch (err) {
    throw new Error(`could not launch ${CHROMIUM_PATH}: ${(err as Error).message}`);
  }
  const contexts: BrowserContext[] = [];
  let closed = false;

  return {
    browser,
    async newPage(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
      contexts.push(context);
      context.setDefaultTimeout(10_000);
      context.setDefaultNavigationTimeout(15_000);
      const page = await context.newPage();
      const problems: string[] = [];
      const consoleLines: string[] = [];
      page.on('console', (m) => {
        const line = `${m.type()}: ${m.text()}`;
        consoleLines.push(line);
        if (m.type() === 'error') problems.push(`console ${line} (${m.location().url}:${m.location().lineNumber})`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e.message}`));
      page.on('requestfailed', (r) => {
        const why = r.failure()?.errorText ?? 'failed';
        // A page being closed aborts its open event stream: not a page problem.
        if (why === 'net::ERR_ABORTED' && page.isClosed()) return;
        problems.push(`request failed: ${r.method()} ${r.url()} ${why}`);
      });
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
      });
      return { page, context, problems, console: consoleLines };
    },
    async close() {
      if (closed) return;
      closed = true;
      const bounded = (p: Promise<unknown>, ms: number): Promise<unknown> =>
        Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);
      await bounded(Promise.all(contexts.map((c) => c.close())), 5000);
      await bounded(browser.close(), 10_000);
    },
  };
}

/** Poll `fn` in the test process until it returns a truthy value; throws after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
