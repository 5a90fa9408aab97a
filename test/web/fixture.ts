/**
 * What the dashboard's browser tests share: Debian's Chromium (headless, playwright-core), person
 * tokens made the way `groundwork token create --user` makes them, logging in through the login
 * page, a request forced with a page's session cookie and CSRF header, and screenshots into
 * test-artifacts/web/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { accessPeople, type Role, type StackConfig } from '../../src/config/schema.js';
import { FixedUsers } from '../../src/security/roles-stack-users.js';
import { Tokens } from '../../src/security/tokens.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { ROOT } from '../helpers/dist.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'web');
export const BUNDLE = path.join(ROOT, 'dist', 'web', 'ui', 'index.html');

/** Chromium comes from .ci/run (Debian's package): in CI its absence fails the test instead of skipping it. */
export const chromiumMissing = !existsSync(CHROMIUM) && !process.env.CI;
export const skipReason = chromiumMissing ? ` (skipped without ${CHROMIUM}: apt-get install chromium)` : '';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` (it builds the dashboard)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * A token for a person of the stack file (their role, or `role` when given), written through a
 * second connection to the daemon's store (WAL), as `groundwork token create` does.
 */
export async function tokenFor(stateDir: string, stack: StackConfig, user: string, role?: Role): Promise<string> {
  const people = accessPeople(stack);
  const person = people[user];
  if (!person) throw new Error(`${user} is not a person with a role in the test's stack (people:)`);
  const store = SqliteStore.open(path.join(stateDir, 'state.db'), systemClock);
  try {
    const tokens = new Tokens(store.tokens, systemClock, new FixedUsers(people));
    return (await tokens.create({ role: role ?? person.role, user, expires: null })).token;
  } finally {
    store.close();
  }
}

export interface LoginOptions {
  /** The page to land on after the login (default /ui/). */
  path?: string;
  colorScheme?: 'light' | 'dark';
  width?: number;
  /** The browser's time zone (default UTC, so days and hours on the page are the test's). */
  timezoneId?: string;
}

/** A new browser context logged in with `token` through the login page, on `path`. */
export async function logIn(browser: Browser, baseUrl: string, token: string, o: LoginOptions = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: o.width ?? 1100, height: 800 },
    colorScheme: o.colorScheme ?? 'light',
    timezoneId: o.timezoneId ?? 'UTC',
  });
  const page = await context.newPage();
  const target = o.path ?? '/ui/';
  await page.goto(`${baseUrl}/ui/login?next=${encodeURIComponent(target)}`);
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForURL(`${baseUrl}${target}`);
  await page.getByTestId('role').waitFor();
  return page;
}

/**
 * A POST from the page with its session cookie and the right CSRF header, as a script of the page
 * could send it: what refuses it then is the role. Answers the HTTP status.
 */
export function forcedPost(page: Page, urlPath: string, body: unknown): Promise<number> {
  return page.evaluate(
    async ([p, b]) => {
      const csrf = document.cookie
        .split(';')
        .map((c) => c.trim().split('='))
        .find(([k]) => k?.startsWith('gw_csrf_'))?.[1];
      const res = await fetch(p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-groundwork-csrf': csrf ?? '' },
        body: JSON.stringify(b),
      });
      return res.status;
    },
    [urlPath, body] as const,
  );
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** No sideways scrolling: nothing on the page is wider than the window. */
export function pageWidth(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth);
}
