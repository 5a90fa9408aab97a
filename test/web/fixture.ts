/**
 * What the dashboard's browser tests share: a lab (a stack in a temp folder, a real in-process
 * daemon and Debian's Chromium, headless, playwright-core) with its teardown, person tokens made
 * the way `groundwork token create --user` makes them, logging in through the login page, a
 * request forced with a page's session cookie and CSRF header, and screenshots into
 * test-artifacts/web/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { accessPeople, type Role, type StackConfig } from '../../src/config/schema.js';
import type { DataPlane } from '../../src/proxy/data-plane.js';
import { FixedUsers } from '../../src/security/roles-stack-users.js';
import { Tokens } from '../../src/security/tokens.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { Duration } from '../../src/util/duration.js';
import { startInProcess, type InProcessDaemon } from '../daemon/daemon-harness.js';
import { ROOT } from '../helpers/dist.js';
import { TeardownFailures } from '../helpers/leftovers.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

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

export interface DashboardLabOptions {
  /** The stack file to write, given the lab's folder (to write a service's files into it first). */
  stack: (dir: string) => StackConfig;
  /** Services that must be healthy before the tests start (none by default). */
  healthy?: string[];
  /** A data plane made before the daemon, given its state folder (the daemon's own default otherwise). */
  dataPlane?: (stateDir: string) => Promise<DataPlane>;
  /** Down with exit: true at the end, so a data plane in its own process exits too. */
  exitOnDown?: boolean;
  /** Something the sweep cannot see that must be gone after down: its description when it is not. */
  leftAfterDown?: () => string | undefined;
  /** How often metrics are sampled (default 1 s, not the daemon's 15 s, so charts and tables have points within a test). */
  metricsInterval?: Duration;
}

/** A stack in a temp folder, its daemon (in-process) and a Chromium, started together. */
export interface DashboardLab {
  dir: string;
  stateDir: string;
  d: InProcessDaemon;
  browser: Browser;
  /** The admin token the daemon wrote at start. */
  token: string;
  /** The browser closed, down, stop and a sweep for leftovers (throwing what failed), the folder removed. */
  close(): Promise<void>;
}

export async function startDashboardLab(name: string, o: DashboardLabOptions): Promise<DashboardLab> {
  const dir = makeTempDir(name);
  const stateDir = path.join(dir, '.groundwork');
  let d: InProcessDaemon | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    const t = new TeardownFailures(`the dashboard lab ${name} in ${dir}`);
    if (d) {
      const started = d;
      await t.step('the daemon teardown', () => started.close());
      const left = o.leftAfterDown?.();
      if (left) t.add(left);
    }
    removeTempDir(dir);
    t.throwIfAny();
  };
  try {
    writeStack(dir, o.stack(dir));
    const dataPlane = o.dataPlane ? await o.dataPlane(stateDir) : undefined;
    // Both settle before either is kept, so a failure of one still closes the other.
    const [started, launched] = await Promise.allSettled([
      startInProcess(dir, {
        metricsInterval: o.metricsInterval ?? Duration.parse('1s'),
        ...(dataPlane ? { dataPlane } : {}),
        ...(o.exitOnDown ? { exitOnDown: true } : {}),
      }),
      launchChromium(),
    ]);
    if (started.status === 'fulfilled') d = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    d = started.value;
    browser = launched.value;
    if (o.healthy?.length) await d.api.waitAllHealthy(o.healthy);
    return { dir, stateDir, d, browser, token: d.api.token, close };
  } catch (e) {
    // The test's afterAll has no lab to close: what did start is closed here; both errors are kept.
    const teardown = await close().then(
      () => undefined,
      (c: unknown) => c,
    );
    if (teardown) throw new AggregateError([e, teardown], `the dashboard lab ${name} did not start, nor close cleanly`);
    throw e;
  }
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
    store.closeNow();
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
