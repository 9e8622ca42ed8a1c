// Browser test of the host's web UI against a running system:
//
//   node tests/browser/ui.mjs <ui-url> <screenshot.png> <second-server-url>
//
// <ui-url> is the page `client --url <gateway> web` serves, connected to the
// session manager in front of the seven reference servers. Besides tools,
// chat and sampling approval, the History pane and ping, it renders the
// database server's MCP App,
// sorts its table, lets it call a tool (allowed, then denied in the host's
// dialog) and checks the app's sandbox and the host's handling of stray
// messages. Last, it connects to <second-server-url> (another MCP server,
// with an `echo` tool) from the page's Connect form, after a bad URL and a
// missing command were each refused with a clear error. Each step prints
// `ok N - what` (TAP); the first failing one prints `not ok N - what` with
// the reason, saves the page as <screenshot.png>.failed.png and makes the
// exit status non-zero. Chromium comes from $CHROMIUM (default
// /usr/bin/chromium); playwright-core from the repository's .conformance
// tools (npm ci there).

import { createRequire } from 'node:module';

// Resolving from .conformance/package.json finds .conformance/node_modules.
const require = createRequire(new URL('../../.conformance/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const STEP_TIMEOUT_MS = 20_000;
const SERVERS = ['resources', 'sampling', 'tools', 'database', 'internet', 'roots', 'prompts'];

const [uiUrl, screenshotPath, secondServerUrl] = process.argv.slice(2);
if (!uiUrl || !screenshotPath || !secondServerUrl) {
  console.error('usage: node tests/browser/ui.mjs <ui-url> <screenshot.png> <second-server-url>');
  process.exit(2);
}

/** A step failed: what the user of the test should read. */
class StepFailure extends Error {}

/** Rejects after `ms` so that no step can hang the test. */
function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new StepFailure(`${what}: no result after ${ms / 1000} s`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

let stepNumber = 0;

/** Runs one numbered step within its time limit and prints `ok N - what`. */
async function step(what, run) {
  stepNumber += 1;
  const limit = deadline(STEP_TIMEOUT_MS, what);
  try {
    await Promise.race([run(), limit.promise]);
  } catch (error) {
    error.step = `not ok ${stepNumber} - ${what}`;
    throw error;
  } finally {
    limit.cancel();
  }
  console.log(`ok ${stepNumber} - ${what}`);
}

/** Waits until the element's text (textContent) passes `test`; the failure says what it was. */
async function waitForText(locator, test, description) {
  const until = Date.now() + STEP_TIMEOUT_MS - 1000;
  let text = null;
  while (Date.now() < until) {
    text = (await locator.count()) > 0 ? await locator.first().textContent() : null;
    if (text !== null && test(text.trim())) return text.trim();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new StepFailure(`${description}; the page shows ${text === null ? 'no such element' : JSON.stringify(text.trim().slice(0, 300))}`);
}

/** A value for a required argument of a tool, from its JSON schema. */
function sampleValue(schema, name) {
  if (schema.default !== undefined) return schema.default;
  const types = [].concat(schema.type ?? []);
  if (types.includes('string')) return `Browser test for ${name}: the quick brown fox jumps over the lazy dog. The dog does not mind.`;
  if (types.includes('integer') || types.includes('number')) return schema.minimum ?? 1;
  if (types.includes('boolean')) return true;
  throw new StepFailure(`cannot fill the required argument ${name} (schema ${JSON.stringify(schema)})`);
}

/** Fills a field the page generated for a tool argument (data-testid arg-<name>). */
async function fillArgument(form, name, value) {
  const field = form.locator(`[data-testid="arg-${name}"]`);
  if ((await field.count()) === 0) throw new StepFailure(`the form has no field for the argument ${name}`);
  if (typeof value === 'boolean') await field.setChecked(value);
  else await field.fill(String(value));
}

/** Picks a tool in the Tools tab and returns its form. */
async function openTool(page, name) {
  await page.getByTestId('tab-tools').click();
  const item = page.locator(`[data-testid="tool-item"][data-tool="${name}"]`);
  await item.waitFor({ timeout: STEP_TIMEOUT_MS });
  await item.click();
  const form = page.locator(`[data-testid="tool-form"][data-tool="${name}"]`);
  await form.waitFor({ timeout: STEP_TIMEOUT_MS });
  return form;
}

/** The backend's JSON answer to a GET, fetched by the page itself. */
async function getJson(page, path) {
  return page.evaluate(async (url) => {
    const response = await fetch(url);
    return { status: response.status, body: await response.json() };
  }, path);
}

async function run(page) {
  await step('the page loads and shows "connected"', async () => {
    await page.goto(uiUrl, { timeout: STEP_TIMEOUT_MS });
    await waitForText(page.getByTestId('connection-status'), (text) => text === 'connected', 'the connection status should be "connected"');
    if (await page.getByTestId('sign-in').isVisible()) throw new StepFailure('the "Sign in" banner shows though no server asks for a sign-in');
  });

  // The prompts server offers prompts and no tools: a server counts as
  // listed when the page lists a tool or a prompt of it (`<server>__...`),
  // and every tool the backend knows must be in the Tools tab.
  await step(`all seven servers are listed (${SERVERS.join(', ')}), with every tool of GET /api/tools`, async () => {
    const { status, body } = await getJson(page, '/api/tools');
    if (status !== 200) throw new StepFailure(`GET /api/tools answered ${status}: ${body.error}`);
    const toolNames = (body.tools ?? []).map((tool) => tool.name);
    const until = Date.now() + STEP_TIMEOUT_MS - 1000;
    let missingServers = SERVERS;
    let missingTools = toolNames;
    while ((missingServers.length > 0 || missingTools.length > 0) && Date.now() < until) {
      const listed = await page.evaluate(() => [...document.querySelectorAll('[data-testid="tool-item"], [data-testid="prompt-item"]')]
        .map((item) => item.dataset.tool ?? item.dataset.prompt));
      missingServers = SERVERS.filter((server) => !listed.some((name) => name.startsWith(`${server}__`)));
      missingTools = toolNames.filter((name) => !listed.includes(name));
      if (missingServers.length > 0 || missingTools.length > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (missingServers.length > 0) throw new StepFailure(`no tool or prompt listed for ${missingServers.join(', ')}`);
    if (missingTools.length > 0) throw new StepFailure(`tools of GET /api/tools missing in the page: ${missingTools.join(', ')}`);
  });

  await step('calling tools__add with a=2, b=3 shows 5', async () => {
    const form = await openTool(page, 'tools__add');
    await fillArgument(form, 'a', 2);
    await fillArgument(form, 'b', 3);
    await form.getByTestId('tool-call').click();
    const result = page.locator('[data-testid="tool-detail"] [data-testid="tool-result"], [data-testid="tool-detail"] [data-testid="error"]');
    await waitForText(result, (text) => /(^|\D)5(\D|$)/.test(text), 'the result of tools__add should show 5');
    if ((await result.first().getAttribute('data-is-error')) !== 'false') throw new StepFailure('tools__add answered with an error');
  });

  await step('the History pane shows the tools/call request and its answer, pretty-printed and raw', async () => {
    await page.getByTestId('tab-history').click();
    const entry = (direction, kind) => page.locator(`[data-testid="history-entry"][data-method="tools/call"][data-direction="${direction}"][data-kind="${kind}"]`).first();
    await entry('sent', 'request').waitFor({ timeout: STEP_TIMEOUT_MS });
    await entry('received', 'response').waitFor({ timeout: STEP_TIMEOUT_MS });
    await entry('sent', 'request').locator('summary').click();
    await waitForText(entry('sent', 'request').getByTestId('history-raw'), (text) => text.includes('"arguments":{"a":2,"b":3}') && text.includes('"name":"tools__add"'), 'the request\'s raw JSON should carry tools__add and its arguments');
    await entry('received', 'response').locator('summary').click();
    await waitForText(entry('received', 'response').getByTestId('history-pretty'), (text) => /"result": 5\b/.test(text) && text.includes('\n  '), 'the answer, pretty-printed, should show "result": 5 on indented lines');
    const newest = await page.getByTestId('history-entry').first().getAttribute('data-seq');
    const oldest = await page.getByTestId('history-entry').last().getAttribute('data-seq');
    if (Number(newest) <= Number(oldest)) throw new StepFailure(`the newest message should be on top (first seq ${newest}, last ${oldest})`);
    if (/bearer|authorization/i.test(await page.getByTestId('history-list').textContent())) throw new StepFailure('the history shows an Authorization header or token');
  });

  await step('Ping shows the round trip', async () => {
    await page.getByTestId('ping').click();
    await waitForText(page.getByTestId('ping-result'), (text) => /^ping \d+(\.\d)? ms$/.test(text), 'the header should show "ping N ms"');
    await page.getByTestId('tab-tools').click();
  });

  await step('the chat with the offline assistant ("add 2 and 3") calls a tool and answers 5', async () => {
    const { body: state } = await getJson(page, '/api/state');
    await page.getByTestId('tab-chat').click();
    if (state.model?.offline && !(await page.getByTestId('offline-badge').isVisible())) {
      throw new StepFailure('the model is the offline assistant but the page shows no "offline assistant" badge');
    }
    await page.getByTestId('chat-input').fill('add 2 and 3');
    await page.getByTestId('chat-send').click();
    const turn = page.getByTestId('chat-turn').last();
    await turn.getByTestId('chat-tool-call').first().waitFor({ timeout: STEP_TIMEOUT_MS });
    // The turn is over when its "working" line goes and the input comes back.
    await turn.getByTestId('chat-pending').waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS });
    const failure = turn.getByTestId('chat-error');
    if ((await failure.count()) > 0) throw new StepFailure(`the chat failed: ${await failure.first().textContent()}`);
    await waitForText(turn.locator('[data-testid="chat-message"][data-role="assistant"]').last(), (text) => /(^|\D)5(\D|$)/.test(text), "the assistant's answer should contain 5");
    if (await page.getByTestId('chat-input').isDisabled()) throw new StepFailure('the chat input is still disabled after the turn');
  });

  await step('calling sampling__summarize asks for approval, and approving shows the result', async () => {
    const { body: state } = await getJson(page, '/api/state');
    if (state.autoApprove) throw new StepFailure('the backend runs with --auto-approve, so no approval dialog can open');
    const { status, body } = await getJson(page, '/api/tools');
    const tool = (body.tools ?? []).find((candidate) => candidate.name === 'sampling__summarize');
    if (status !== 200 || !tool) throw new StepFailure(`GET /api/tools (${status}) has no sampling__summarize`);
    const form = await openTool(page, 'sampling__summarize');
    const schema = tool.inputSchema ?? {};
    for (const name of schema.required ?? []) await fillArgument(form, name, sampleValue(schema.properties?.[name] ?? {}, name));
    await form.getByTestId('tool-call').click();
    const dialog = page.getByTestId('approval-dialog');
    await dialog.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    await waitForText(dialog.getByTestId('approval-messages'), (text) => text.includes('quick brown fox'), 'the approval dialog should show the text sent to the model');
    await dialog.getByTestId('approval-approve').click();
    await dialog.waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS });
    const result = page.locator('[data-testid="tool-detail"] [data-testid="tool-result"], [data-testid="tool-detail"] [data-testid="error"]');
    await waitForText(result, (text) => text.length > 0, 'the result of sampling__summarize should be shown');
    if ((await result.first().getAttribute('data-is-error')) !== 'false') {
      throw new StepFailure(`sampling__summarize failed: ${(await result.first().textContent()).trim().slice(0, 300)}`);
    }
  });

  // The database server's MCP App (io.modelcontextprotocol/ui). The rows
  // come unsorted so that sorting shows.
  const appFrame = page.locator('[data-testid="tool-detail"] [data-testid="app-frame"]');
  const inApp = page.frameLocator('[data-testid="tool-detail"] [data-testid="app-frame"]');
  const firstColumn = () => inApp.locator('[data-testid="app-table"] tbody tr td:first-child').allTextContents();
  /** Waits until the app's first column reads `want`. */
  async function waitForColumn(want, what) {
    const until = Date.now() + STEP_TIMEOUT_MS - 1000;
    let got = [];
    while (Date.now() < until) {
      got = await firstColumn();
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new StepFailure(`${what}: the app's first column reads ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
  }

  await step('database__query shows its MCP App in a sandboxed frame, and the table sorts by a column', async () => {
    const form = await openTool(page, 'database__query');
    await fillArgument(form, 'sql', "SELECT 3 AS n, 'c' AS s UNION ALL SELECT 1, 'a' UNION ALL SELECT 2, 'b'");
    await form.getByTestId('tool-call').click();
    await appFrame.waitFor({ timeout: STEP_TIMEOUT_MS });
    const sandbox = await appFrame.getAttribute('sandbox');
    if (sandbox !== 'allow-scripts') throw new StepFailure(`the app's frame has sandbox=${JSON.stringify(sandbox)}, not "allow-scripts"`);
    await waitForText(inApp.getByTestId('app-status'), (text) => text.startsWith('3 rows'), 'the app should say it shows 3 rows');
    await waitForColumn(['3', '1', '2'], 'before sorting');
    await inApp.getByTestId('app-sort').first().click();
    await waitForColumn(['1', '2', '3'], 'sorted by n');
    await inApp.getByTestId('app-sort').first().click();
    await waitForColumn(['3', '2', '1'], 'sorted by n, descending');
  });

  await step('the app calls query through the host, once the user allows it in a dialog (and not when denied)', async () => {
    await inApp.getByTestId('app-sql').fill('SELECT 7 AS n UNION ALL SELECT 8');
    await inApp.getByTestId('app-run').click();
    const dialog = page.getByTestId('app-call-dialog');
    await dialog.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    await waitForText(dialog.getByTestId('app-call-arguments'), (text) => text.includes('SELECT 7'), 'the dialog should show the arguments');
    await dialog.getByTestId('app-call-allow').click();
    await dialog.waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS });
    await waitForText(inApp.getByTestId('app-status'), (text) => text.startsWith('2 rows'), 'the app should show the new result');
    await waitForColumn(['7', '8'], 'after the call');
    await inApp.getByTestId('app-sql').fill('SELECT 9 AS n');
    await inApp.getByTestId('app-run').click();
    await dialog.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    await dialog.getByTestId('app-call-deny').click();
    await waitForText(inApp.getByTestId('app-status'), (text) => text.includes('denied'), 'the app should be told the user denied the call');
    await waitForColumn(['7', '8'], 'after a denied call');
  });

  await step("the app cannot reach the host page, and its malformed or unrequested messages are ignored and logged", async () => {
    const frame = await (await appFrame.elementHandle()).contentFrame();
    if (!frame) throw new StepFailure("the app's frame has no document");
    const reach = await frame.evaluate(() => {
      const tries = {
        document: () => window.parent.document.title,
        location: () => window.parent.location.href,
        storage: () => window.localStorage.length,
      };
      return Object.fromEntries(Object.entries(tries).map(([what, attempt]) => {
        try {
          return [what, `reached: ${attempt()}`];
        } catch (error) {
          return [what, `blocked: ${error.name}`];
        }
      }));
    });
    const reached = Object.entries(reach).filter(([, outcome]) => !outcome.startsWith('blocked'));
    if (reached.length > 0) throw new StepFailure(`the app reached beyond its sandbox: ${JSON.stringify(reached)}`);
    await frame.evaluate(() => {
      window.parent.postMessage('not JSON-RPC at all', '*');
      window.parent.postMessage({ jsonrpc: '2.0', id: 4242, result: { sneaky: true } }, '*');
      window.parent.postMessage({ jsonrpc: '2.0', method: 'ui/notifications/initialized', params: {} }, '*');
    });
    await page.getByTestId('tab-log').click();
    const log = page.getByTestId('log-list');
    await waitForText(log, (text) => text.includes('ignored a malformed message'), 'the Log should note the malformed message');
    await waitForText(log, (text) => text.includes('never asked for'), 'the Log should note the unrequested answer');
    await waitForText(log, (text) => text.includes('not expected now'), 'the Log should note the repeated initialized notification');
    if ((await page.getByTestId('app-call-dialog').count()) > 0) throw new StepFailure('a stray message opened a dialog');
    await page.getByTestId('tab-tools').click();
  });

  /** Submits the Connect form with `target` (a URL or a command line). */
  async function connectFromPage(kind, target, era = 'auto') {
    const details = page.getByTestId('connect');
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
    await page.getByTestId('connect-kind').selectOption(kind);
    await page.getByTestId('connect-target').fill(target);
    await page.getByTestId('connect-era').selectOption(era);
    await page.getByTestId('connect-submit').click();
  }

  await step('the Connect form refuses a bad URL and a missing command, each with a clear error', async () => {
    const error = page.locator('[data-testid="connect-error"] [data-testid="error"]');
    await connectFromPage('url', 'ftp://example.com/mcp');
    await waitForText(error, (text) => text.includes('ftp://example.com/mcp') && text.includes('http://'), 'a URL that is not http(s) should be refused, saying so');
    await connectFromPage('command', '/nonexistent/mcp-server --stdio', 'session');
    await waitForText(error, (text) => text.includes('Could not connect to /nonexistent/mcp-server') && text.includes('/nonexistent/mcp-server'), 'a command that does not exist should be refused, saying which');
  });

  await step(`connecting to a second server (${secondServerUrl}) from the page switches the tools, the header and the History to it`, async () => {
    await connectFromPage('url', secondServerUrl, 'session');
    await waitForText(page.getByTestId('connection-target'), (text) => text.includes(secondServerUrl), 'the header should name the second server');
    await waitForText(page.getByTestId('connection-status'), (text) => text === 'connected', 'the connection status should be "connected"');
    const form = await openTool(page, 'echo');
    await fillArgument(form, 'text', 'hello from the second server');
    await form.getByTestId('tool-call').click();
    const result = page.locator('[data-testid="tool-detail"] [data-testid="tool-result"], [data-testid="tool-detail"] [data-testid="error"]');
    await waitForText(result, (text) => text.includes('hello from the second server'), 'the echo tool should answer');
    if ((await page.locator('[data-testid="tool-item"][data-tool="tools__add"]').count()) > 0) throw new StepFailure('the first server\'s tools are still listed');
    await page.getByTestId('tab-history').click();
    const answer = page.locator('[data-testid="history-entry"][data-method="tools/call"][data-direction="received"]').first();
    await waitForText(answer.locator('summary'), (text) => text.includes(secondServerUrl), 'the newest tools/call answer should come from the second server');
    await page.getByTestId('tab-tools').click();
  });

  await step(`a full-page screenshot is saved to ${screenshotPath}`, async () => {
    await page.screenshot({ path: screenshotPath, fullPage: true, timeout: STEP_TIMEOUT_MS });
  });
}

async function main() {
  console.log('1..13');
  const problems = [];
  let browser;
  let page;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox'], // CI runs as root
      timeout: STEP_TIMEOUT_MS,
    });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('pageerror', (error) => problems.push(`uncaught in the page: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    await run(page);
  } catch (error) {
    process.exitCode = 1;
    console.log(error.step ?? `not ok ${stepNumber + 1} - starting the browser`);
    // Playwright's messages carry terminal colours: without them, they read anywhere.
    const message = error.message.replace(/\x1b\[[0-9;]*m/g, '');
    console.log(`# ${message.split('\n').join('\n# ')}`);
    await explainFailure(page, problems);
  } finally {
    // Closing must not hang the test either.
    const limit = deadline(10_000, 'closing the browser');
    await Promise.race([browser?.close(), limit.promise]).catch((error) => console.log(`# ${error.message}`));
    limit.cancel();
  }
}

/** After a failure: what the page said (notices, page errors) and a screenshot. */
async function explainFailure(page, problems) {
  if (!page) return;
  try {
    for (const notice of await page.getByTestId('notice').allTextContents()) console.log(`# notice on the page: ${notice}`);
  } catch {
    // The page may be gone; the screenshot below says so too.
  }
  for (const problem of problems) console.log(`# ${problem}`);
  const failedPath = `${screenshotPath}.failed.png`;
  try {
    await page.screenshot({ path: failedPath, fullPage: true, timeout: 10_000 });
    console.log(`# screenshot of the failure: ${failedPath}`);
  } catch (error) {
    console.log(`# no screenshot of the failure: ${error.message}`);
  }
}

await main();
// Whatever the browser left running, the test ends here.
process.exit();
