// A person signing in at the tests' authorization server
// (tests/oidc/provider.mjs), in headless Chromium driven by playwright-core:
//
//   node tests/browser/oidc_login.mjs <authorization-url> [user] [--deny]
//
// Opens the authorization URL, signs in on the provider's own login page as
// <user> (default "alice") with the password "pw", and on its consent page
// clicks Continue (or, with --deny, cancels). The provider then redirects to
// the client's redirect URI (a loopback listener of the client under test);
// the script waits until that page has loaded and prints its text. Exits 0
// then; otherwise prints what went wrong (the page's URL and text) and exits
// 1. Chromium comes from $CHROMIUM (default /usr/bin/chromium),
// playwright-core from the repository's .conformance tools.

import { createRequire } from 'node:module';

const require = createRequire(new URL('../../.conformance/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const STEP_TIMEOUT_MS = 20_000;

const args = process.argv.slice(2);
const deny = args.includes('--deny');
const [authorizationUrl, user = 'alice'] = args.filter((a) => a !== '--deny');
if (!authorizationUrl) {
  console.error('usage: node tests/browser/oidc_login.mjs <authorization-url> [user] [--deny]');
  process.exit(2);
}

let redirectUri;
try {
  redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri');
} catch (error) {
  console.error(`oidc_login: the authorization URL is not a URL: ${error.message}`);
  process.exit(2);
}
if (!redirectUri) {
  console.error('oidc_login: the authorization URL has no redirect_uri');
  process.exit(2);
}
const redirectBase = redirectUri.split('?')[0];

/** What the page shows, for a failure message. */
async function describe(page) {
  try {
    const text = (await page.locator('body').innerText({ timeout: 2000 })).replace(/\s+/g, ' ').trim();
    return `at ${page.url()}: ${text.slice(0, 600)}`;
  } catch {
    return `at ${page.url()}`;
  }
}

/** Whether the browser has reached the client's redirect URI. */
function atRedirect(url) {
  return url.startsWith(redirectBase);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'], // CI runs as root
    timeout: STEP_TIMEOUT_MS,
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  // Only this machine: the provider's pages link a web font, which is not
  // fetched (the tests reach no other host).
  await page.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname) ? route.continue() : route.abort();
  });
  try {
    await page.goto(authorizationUrl);
    // The login page, unless the provider refused the request outright.
    const login = page.locator('input[name="login"]');
    try {
      await login.waitFor({ timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new Error(`no login page ${await describe(page)}`);
    }
    await login.fill(user);
    await page.locator('input[name="password"]').fill('pw');
    await page.locator('button[type="submit"]').click();
    // The consent page, or straight to the client when nothing new is asked.
    const consent = page.locator('input[name="prompt"][value="consent"]');
    const next = await Promise.race([
      consent.waitFor({ state: 'attached' }).then(() => 'consent'),
      page.waitForURL((url) => atRedirect(url.toString())).then(() => 'redirect'),
    ]).catch(() => 'neither');
    if (next === 'neither') throw new Error(`no consent page after signing in ${await describe(page)}`);
    if (next === 'consent') {
      if (deny) {
        await page.locator('a[href*="/abort"]').click();
      } else {
        await page.locator('button[type="submit"]').click();
      }
    }
    try {
      await page.waitForURL((url) => atRedirect(url.toString()), { timeout: STEP_TIMEOUT_MS, waitUntil: 'load' });
    } catch {
      throw new Error(`the provider did not send the browser to ${redirectBase} ${await describe(page)}`);
    }
    const text = await page.locator('body').innerText().catch(() => '');
    console.log(`redirected to the client; its page says: ${text.replace(/\s+/g, ' ').trim()}`);
  } finally {
    await browser.close().catch(() => {});
  }
}

try {
  await main();
} catch (error) {
  // Playwright's messages carry terminal colours: without them, they read anywhere.
  console.error(`oidc_login failed: ${error.message.replace(/\x1b\[[0-9;]*m/g, '')}`);
  process.exitCode = 1;
}
process.exit();
