/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * The web console, driven in headless Chromium against a real gateway on loopback with mock
 * providers: sign in with a management key, see a request just made in Activity (and one made
 * while the page is open, live), open a fallback's routing explanation (a failed and a served
 * endpoint), create a key (shown once) and disable it, change the account's credits (confirmed,
 * refusals shown), Usage and Providers drawing data, and phone width without horizontal overflow.
 * Screenshots go to test-results/console/ (not committed).
 * Then the serving itself: redirect, content types, caching, compression, CSP; and the two JSON
 * endpoints the console added (`/endpoints/health`, `group_by=hour,model`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import { launchChromium } from './support/browser.js';
import type { ApiError } from '../src/core/errors.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const SHOTS = join(import.meta.dirname, '..', 'test-results', 'console');
/** Generous: the machine running the tests may be busy. Nothing waits this long when all is well. */
const WAIT = 15_000;

describe('web console in Chromium', () => {
  let groq: MockUpstream;
  let novita: MockUpstream;
  let gw: Gateway;
  let browser: Browser;
  let page: Page;
  let mgmt = '';
  let user = '';
  let fallbackId = '';

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const chat = async (provider: Record<string, unknown>, content = 'hi') => {
    const res = await postChat(gw, { model: MODEL, provider, messages: [{ role: 'user', content }] }, auth(user));
    await res.text();
    return { status: res.status, id: res.headers.get('x-generation-id')! };
  };
  const shot = (p: Page, name: string) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  // Browser-side expressions are strings: this file is typed for Node, without the DOM.
  const noHorizontalOverflow = (p: Page) => p.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');
  /** Polls from Node: the page's CSP forbids the eval that a string waitForFunction needs. */
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + WAIT;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const rowCount = (n: number) => until(`${n} rows`, async () => (await page.locator('tbody tr').count()) === n);
  const keyState = (name: string, state: string) =>
    until(`${name} is ${state}`, async () => (await page.locator(`tr[data-key="${name}"] [data-state]`).innerText()) === state);

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // Launched first: a missing browser fails here, with how to install it.
    browser = await launchChromium();
    groq = await startMockUpstream();
    novita = await startMockUpstream();
    gw = await startGateway({ providers: { groq: groq.baseUrl, novita: novita.baseUrl } });
    mgmt = (await gw.app.keyStore.create({ name: 'ops', management: true })).key;
    user = (await gw.app.keyStore.create({ name: 'team-a' })).key;

    // A fallback: groq answers 503, novita serves.
    groq.enqueue({ status: 503, json: { error: { message: 'overloaded' } } });
    novita.enqueue({ json: chatCompletion('From Novita', { prompt_tokens: 7, completion_tokens: 3 }) });
    const fallback = await chat({ order: ['groq', 'novita'] });
    assert.equal(fallback.status, 200);
    fallbackId = fallback.id;
    // Served at once, and an upstream 429 with nowhere else to go.
    groq.enqueue({ json: chatCompletion('From Groq', { prompt_tokens: 12, completion_tokens: 30 }) });
    assert.equal((await chat({ only: ['groq'] })).status, 200);
    groq.enqueue({ status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down' } } });
    assert.equal((await chat({ only: ['groq'] })).status, 429);
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    await groq?.close();
    await novita?.close();
  });

  it('signs in with a management key and shows the latest generations, live', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
    // The sign-in probe without a key is answered 401 while auth is on, which Chromium logs.
    page.on('console', (m) => m.type() === 'error' && !/status of 401/.test(m.text()) && failures.push(`console error: ${m.text()}`));
    page.on('request', (r) => !r.url().startsWith(gw.url) && !r.url().startsWith('data:') && failures.push(`request outside the gateway: ${r.url()}`));

    const res = await page.goto(`${gw.url}/`);
    assert.equal(new URL(page.url()).pathname, '/console/', 'the root redirects to the console');
    assert.equal(res?.status(), 200);
    await page.getByLabel('Management key').waitFor({ timeout: WAIT });
    await shot(page, 'login');

    // An inference key is refused with a reason.
    await page.getByLabel('Management key').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The console needs a management key').waitFor({ timeout: WAIT });

    await page.getByLabel('Management key').fill(mgmt);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate<string | null>("sessionStorage.getItem('switchyard.console.key')"), mgmt, 'the key is kept in the tab');

    const fallbackRow = page.locator(`tr[data-id="${fallbackId}"]`);
    await fallbackRow.waitFor({ timeout: WAIT });
    const rowText = await fallbackRow.innerText();
    assert.match(rowText, /team-a|sk-sy-v1-/, 'the key');
    assert.match(rowText, /kimi-k2-0905/, 'the model');
    assert.match(rowText, /Novita/, 'the provider that served');
    assert.match(rowText, /200/, 'the status');
    assert.match(rowText, /7 → 3/, 'the tokens');
    assert.match(rowText, /2 attempts/);
    assert.equal(await page.locator('tbody tr').count(), 3);

    // A request made while the page is open appears without a reload.
    novita.enqueue({ json: chatCompletion('Live', { prompt_tokens: 5, completion_tokens: 5 }) });
    const live = await chat({ only: ['novita'] }, 'made while watching');
    await page.locator(`tr[data-id="${live.id}"]`).waitFor({ timeout: WAIT });
    assert.equal(await page.locator('tbody tr').first().getAttribute('data-id'), live.id, 'newest first');

    // Filters: status 429 leaves the rate-limited one only.
    await page.locator('select[name="status"]').selectOption('429');
    await rowCount(1);
    assert.match(await page.locator('tbody tr').innerText(), /429/);
    assert.match(page.url(), /status=429/, 'filters are in the address');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await rowCount(4);
    await shot(page, 'activity');
    assert.deepEqual(failures, []);
  });

  it("opens a generation's routing explanation: the failed and the served endpoint", async () => {
    await page.locator(`tr[data-id="${fallbackId}"]`).click();
    const drawer = page.getByRole('dialog', { name: 'Generation detail' });
    await drawer.getByRole('heading', { name: 'Routing explanation' }).waitFor({ timeout: WAIT });
    assert.match(page.url(), new RegExp(`/console/activity/${fallbackId}`), 'the detail has its own address');
    const failed = drawer.locator('.route-step.outcome-failed');
    const served = drawer.locator('.route-step.outcome-served');
    assert.equal(await failed.count(), 1);
    assert.equal(await served.count(), 1);
    assert.match(await failed.innerText(), /Groq[\s\S]*HTTP 503/);
    assert.match(await served.innerText(), /Novita[\s\S]*HTTP 200/);
    // The first considered is the one that failed, and the attempts table lists both upstream calls.
    assert.match(await drawer.locator('.route-step').first().innerText(), /failed/);
    assert.equal(await drawer.locator('table tbody tr').count(), 2);
    await shot(page, 'generation-detail');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached', timeout: WAIT });
  });

  it('creates a key, shows it once, and disables it', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'Keys' }).waitFor({ timeout: WAIT });
    await page.locator('tr[data-key="team-a"]').waitFor({ timeout: WAIT });

    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog', { name: 'Create key' });
    await form.locator('input[name="name"]').fill('console-made');
    await form.locator('input[name="limit"]').fill('5');
    await form.locator('select[name="limit_reset"]').selectOption('monthly');
    await form.locator('input[name="requests"]').fill('30');
    await form.locator('select[name="interval"]').selectOption('1m');
    await form.getByRole('button', { name: 'Create key' }).click();

    const shown = page.getByRole('dialog', { name: 'Key created' });
    const secret = await shown.locator('input[data-secret]').inputValue({ timeout: WAIT });
    assert.match(secret, /^sk-sy-v1-[0-9a-f]{64}$/);
    await shot(page, 'key-created');
    // The key works, with the limits set in the form.
    const me = (await (await fetch(`${gw.baseUrl}/key`, { headers: auth(secret) })).json()) as any;
    assert.equal(me.data.limit, 5);
    assert.equal(me.data.limit_reset, 'monthly');
    assert.equal(me.data.rate_limit.requests, 30);
    await shown.getByRole('button', { name: 'Done' }).click();
    // Shown once: nowhere on the page any more.
    assert.equal(await page.getByText(secret).count(), 0);
    assert.ok(!(await page.content()).includes(secret));

    const row = page.locator('tr[data-key="console-made"]');
    await row.waitFor({ timeout: WAIT });
    assert.match(await row.locator('[data-state]').innerText(), /active/);
    assert.match(await row.innerText(), /\$5/);
    await row.getByRole('button', { name: 'Disable' }).click();
    await keyState('console-made', 'disabled');
    const refused = await fetch(`${gw.baseUrl}/key`, { headers: auth(secret) });
    assert.equal(refused.status, 401, 'a disabled key is refused');
    await shot(page, 'keys');

    // Limits and rate limits changed through Edit.
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit key' });
    assert.equal(await edit.locator('input[name="limit"]').inputValue(), '5');
    await edit.locator('input[name="limit"]').fill('7.5');
    await edit.locator('input[name="tokens_per_minute"]').fill('1000');
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'detached', timeout: WAIT });
    const listed = (await (await fetch(`${gw.baseUrl}/keys?include_disabled=true`, { headers: auth(mgmt) })).json()) as any;
    const made = listed.data.find((k: any) => k.name === 'console-made');
    assert.equal(made.limit, 7.5);
    assert.equal(made.limit_reset, 'monthly');
    assert.deepEqual([made.rate_limit.requests, made.rate_limit.interval, made.rate_limit.tokens_per_minute], [30, '1m', 1000]);
    await page.locator('tr[data-key="console-made"]', { hasText: '$7.50' }).waitFor({ timeout: WAIT });

    // And enabled again.
    await row.getByRole('button', { name: 'Enable' }).click();
    await keyState('console-made', 'active');
    assert.equal((await fetch(`${gw.baseUrl}/key`, { headers: auth(secret) })).status, 200);

    // Another one made and deleted: gone from the list and refused.
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('dialog', { name: 'Create key' }).locator('input[name="name"]').fill('short-lived');
    await page.getByRole('dialog', { name: 'Create key' }).getByRole('button', { name: 'Create key' }).click();
    const doomed = await page.getByRole('dialog', { name: 'Key created' }).locator('input[data-secret]').inputValue({ timeout: WAIT });
    await page.getByRole('button', { name: 'Done' }).click();
    await page.locator('tr[data-key="short-lived"]').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete key' }).click();
    await page.locator('tr[data-key="short-lived"]').waitFor({ state: 'detached', timeout: WAIT });
    assert.equal((await fetch(`${gw.baseUrl}/key`, { headers: auth(doomed) })).status, 401);
  });

  it("changes the account's credits: add, set, a refusal, unlimited; each confirmed, the figures updated", async () => {
    const stat = (label: string) => page.locator(`.stat:has(.stat-label:text-is("${label}")) .stat-value`);
    const credits = async () => ((await (await fetch(`${gw.baseUrl}/credits`, { headers: auth(mgmt) })).json()) as any).data;
    const statIs = (label: string, value: string) => until(`${label} shows ${value}`, async () => (await stat(label).innerText()) === value);
    assert.equal(await stat('Credits').innerText(), 'Unlimited');
    const used = (await credits()).total_usage;
    assert.ok(used > 0, 'the requests made before cost something');

    // Add $12.50: confirmed first (nothing sent before), then the figures change without a reload.
    await page.getByRole('button', { name: 'Change credits' }).click();
    const form = page.getByRole('dialog', { name: 'Change credits' });
    await form.locator('input[name="amount"]').fill('12.50');
    await form.getByRole('button', { name: 'Review' }).click();
    const confirm = page.getByRole('dialog', { name: 'Confirm credits change' });
    assert.equal(await confirm.locator('[data-confirm]').innerText(), 'Add $12.50 to the credits.');
    assert.equal((await credits()).unlimited, true, 'nothing is changed before the confirmation');
    await shot(page, 'credits-confirm');
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await confirm.waitFor({ state: 'detached', timeout: WAIT });
    await statIs('Remaining', '$12.50');
    const added = await credits();
    assert.equal(added.unlimited, undefined);
    assert.equal(Number((added.total_credits - added.total_usage).toFixed(9)), 12.5, 'the first top-up starts from what is used');

    // Set the total to $20.
    await page.getByRole('button', { name: 'Change credits' }).click();
    await form.getByLabel('Set the total').check();
    await form.locator('input[name="amount"]').fill('20');
    await form.getByRole('button', { name: 'Review' }).click();
    assert.equal(await confirm.locator('[data-after]').innerText(), '$20.00');
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await statIs('Credits', '$20.00');
    assert.equal((await credits()).total_credits, 20);

    // Refused: the form's own check, then the gateway's (a total below $0), shown in the dialog.
    await page.getByRole('button', { name: 'Change credits' }).click();
    await form.locator('input[name="amount"]').fill('lots');
    await form.getByRole('button', { name: 'Review' }).click();
    await form.getByText('Enter an amount in USD').waitFor({ timeout: WAIT });
    await form.locator('input[name="amount"]').fill('-25');
    await form.getByRole('button', { name: 'Review' }).click();
    assert.equal(await confirm.locator('[data-confirm]').innerText(), 'Take $25.00 off the credits.');
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await confirm.getByRole('alert').getByText('Credits not changed: total credits would be -$5; they cannot go below $0').waitFor({ timeout: WAIT });
    await shot(page, 'credits-refused');
    assert.equal((await credits()).total_credits, 20, 'unchanged');
    await confirm.getByRole('button', { name: 'Back' }).click();

    // Unlimited again.
    await form.getByLabel('Unlimited').check();
    assert.equal(await form.locator('input[name="amount"]').count(), 0, 'no amount for unlimited');
    await form.getByRole('button', { name: 'Review' }).click();
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await statIs('Credits', 'Unlimited');
    await statIs('Remaining', '∞');
    assert.equal((await credits()).unlimited, true);
  });

  it('Usage charts cost, tokens and requests', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor({ timeout: WAIT });
    await page.locator('[data-chart="cost"] canvas').waitFor({ timeout: WAIT });
    assert.equal(await page.locator('.chart-card canvas').count(), 3);
    const requests = await page.locator('.stat:has(.stat-label:text-is("Requests")) .stat-value').innerText();
    assert.equal(requests, '4');
    assert.match(await page.locator('.usage-table').innerText(), /moonshotai\/kimi-k2-0905/);
    await page.getByRole('button', { name: 'By key' }).click();
    await page.locator('.usage-table', { hasText: 'team-a' }).waitFor({ timeout: WAIT });
    await page.getByRole('button', { name: 'By provider' }).click();
    await page.locator('.usage-table', { hasText: 'Novita' }).waitFor({ timeout: WAIT });
    // Hovering the bar of this hour shows its figures, per provider.
    const over = page.locator('[data-chart="requests"] .u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
    const tip = page.locator('[data-chart="requests"] .chart-tip');
    await tip.waitFor({ timeout: WAIT });
    assert.match(await tip.innerText(), /Groq\s*2[\s\S]*Novita\s*2/);
    await shot(page, 'usage');
  });

  it("Providers shows each endpoint's health", async () => {
    await page.getByRole('link', { name: 'Providers' }).click();
    await page.locator('[data-provider="groq"]').waitFor({ timeout: WAIT });
    await page.locator('[data-provider="novita"]').waitFor({ timeout: WAIT });
    const groqRow = page.locator(`[data-provider="groq"] tr[data-endpoint="${MODEL} groq"]`);
    // Groq failed once (503) and served once; its 429 with Retry-After (1 s) opened the breaker,
    // which lets one probe through once that second has passed.
    assert.match(await groqRow.innerText(), /breaker open|probing/);
    assert.match(await groqRow.innerText(), /50(\.0)?%/);
    const novitaRow = page.locator(`[data-provider="novita"] tr[data-endpoint="${MODEL} novita"]`);
    assert.match(await novitaRow.innerText(), /healthy/);
    assert.match(await novitaRow.innerText(), /100%/);
    await shot(page, 'providers');
  });

  it('fits a phone screen without horizontal overflow', async () => {
    // The same tab, narrowed: the layout follows the width (media queries), no reload needed.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [name, ready] of [
      ['Activity', `tr[data-id="${fallbackId}"]`],
      ['Usage', '[data-chart="requests"] canvas'],
      ['Providers', '[data-provider="novita"]'],
      ['Keys', 'tr[data-key="console-made"]'],
    ]) {
      await page.getByRole('link', { name }).click();
      await page.locator(ready).waitFor({ timeout: WAIT });
      assert.ok(await noHorizontalOverflow(page), `${name} is wider than the phone`);
      await shot(page, `phone-${name.toLowerCase()}`);
    }
    await page.goto(`${gw.url}/console/activity/${fallbackId}`);
    await page.locator('.route-step.outcome-served').waitFor({ timeout: WAIT });
    assert.ok(await noHorizontalOverflow(page));
    // The drawer scrolls on its own: the screenshot is of the screen, at the routing explanation.
    await page.getByRole('heading', { name: 'Routing explanation' }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'phone-generation-detail.png') });
  });

  it('opens without signing in while auth is off', async () => {
    const open = await startGateway({ providers: { novita: novita.baseUrl } });
    try {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${open.url}/console/`);
      await page.getByRole('heading', { name: 'Activity' }).waitFor({ timeout: WAIT });
      assert.equal(await page.getByLabel('Management key').count(), 0);
      await page.getByText('auth off').waitFor({ timeout: WAIT });
      await page.getByRole('link', { name: 'Keys' }).click();
      await page.getByText('Auth is off').waitFor({ timeout: WAIT });
      await shot(page, 'auth-off-keys');
    } finally {
      await open.close();
    }
  });
});

describe('web console files and its JSON endpoints', () => {
  let gw: Gateway;
  let novita: MockUpstream;

  before(async () => {
    novita = await startMockUpstream();
    gw = await startGateway({ providers: { novita: novita.baseUrl } });
  });
  after(async () => {
    await gw.close();
    await novita.close();
  });

  it('serves the page and its assets with types, caching, compression and a CSP', async () => {
    const root = await fetch(`${gw.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/');

    for (const path of ['/console', '/console/', '/console/keys', '/console/activity/gen-123']) {
      const page = await fetch(`${gw.url}${path}`);
      assert.equal(page.status, 200, path);
      assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      const csp = page.headers.get('content-security-policy')!;
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /connect-src 'self'/);
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      const html = await page.text();
      assert.match(html, /<meta name="switchyard-api" content="\/api\/v1"/);
      assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing from elsewhere');
    }

    const html = await (await fetch(`${gw.url}/console/`)).text();
    const js = /src="(\/console\/assets\/console-[\w-]+\.js)"/.exec(html)?.[1];
    const css = /href="(\/console\/assets\/console-[\w-]+\.css)"/.exec(html)?.[1];
    assert.ok(js && css, html);
    const plain = await fetch(`${gw.url}${js}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const body = Buffer.from(await plain.arrayBuffer());
    assert.equal(plain.headers.get('content-encoding'), null);

    // Raw requests (fetch would decode): the pre-compressed copies decode to the same bytes.
    const raw = async (encoding: string) => {
      const { request } = await import('node:http');
      return new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        request(`${gw.url}${js}`, { headers: { 'accept-encoding': encoding } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
        })
          .on('error', reject)
          .end();
      });
    };
    const br = await raw('gzip, deflate, br');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.ok(brotliDecompressSync(br.body).equals(body));
    assert.ok(br.body.length < body.length / 2);
    const gz = await raw('gzip');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(gz.body).equals(body));

    const etag = plain.headers.get('etag')!;
    const again = await fetch(`${gw.url}${js}`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const style = await fetch(`${gw.url}${css}`);
    assert.equal(style.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.match(await style.text(), /\.u-legend/, 'uPlot stylesheet bundled');

    const missing = await fetch(`${gw.url}/console/assets/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, 404);
    const post = await fetch(`${gw.url}/console/`, { method: 'POST' });
    assert.equal(post.status, 405);
  });

  it('answers 503 naming the build step when the console was not built', async () => {
    const { createServer } = await import('node:http');
    const { serveConsole } = await import('../src/console/serve.js');
    const empty = mkdtempSync(join(tmpdir(), 'switchyard-console-'));
    const server = createServer((req, res) => {
      try {
        serveConsole(req, res, new URL(req.url!, 'http://x'), '/api/v1', empty);
      } catch (err) {
        const e = err as ApiError;
        res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify(e.toBody()));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/console/`);
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as any).error.message, /npm run build/);
    } finally {
      server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('GET /endpoints/health lists every configured endpoint with its figures', async () => {
    novita.enqueue({ json: chatCompletion('ok') });
    assert.equal((await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] })).status, 200);
    const body = (await (await fetch(`${gw.baseUrl}/endpoints/health`)).json()) as any;
    assert.ok(body.data.length > 0);
    assert.ok(body.data.every((e: any) => e.provider === 'novita'), 'configured providers only');
    const kimi = body.data.find((e: any) => e.model === MODEL);
    assert.equal(kimi.endpoint, 'novita');
    assert.equal(kimi.breaker, 'closed');
    assert.equal(kimi.uptime_last_5m, 100);
    assert.equal(kimi.requests_last_30m, 1);
    assert.equal(typeof kimi.latency_last_30m.p50, 'number');
    const all = (await (await fetch(`${gw.baseUrl}/endpoints/health?all=true`)).json()) as any;
    assert.ok(all.data.some((e: any) => e.provider !== 'novita' && e.status === -10), 'unconfigured ones with ?all=true');
    assert.equal((await fetch(`${gw.baseUrl}/endpoints/health?all=yes`)).status, 400);
  });

  it('analytics group by hour and model', async () => {
    const body = (await (await fetch(`${gw.baseUrl}/analytics/usage?group_by=hour,model`)).json()) as any;
    assert.equal(body.group_by, 'hour,model');
    assert.equal(body.data.length, 1);
    assert.match(body.data[0].hour, /^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
    assert.equal(body.data[0].model, MODEL);
    assert.equal(body.data[0].requests, 1);
    const age = Date.now() - Date.parse(body.data[0].hour);
    assert.ok(age >= 0 && age < 3_600_000 + 60_000, 'the current UTC hour');
    for (const bad of ['day,hour', 'model,model', 'key,model,day', 'week']) {
      const res = await fetch(`${gw.baseUrl}/analytics/usage?group_by=${bad}`);
      assert.equal(res.status, 400, bad);
      assert.match(((await res.json()) as any).error.message, /group_by/);
    }
  });
});
