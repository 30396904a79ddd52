// End-to-end: the locked-down page (issue #14). Once loaded, the page makes no network request of any kind, and its
// Content-Security-Policy would refuse one (and any eval); a share link whose names, text and SQL hold markup shows
// that markup as text: no element of it exists and none of its script runs, in the cluster view or the compare view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, shot, scrubTo } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

/** A page that records, from before its first script, every CSP violation and every request it makes. */
async function watched() {
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  const answered = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => requests.push(r.url()));
  page.on('response', (r) => answered.push(r.url()));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(`${e.effectiveDirective} ${e.blockedURI}`);
    });
  });
  return { page, errors, requests, answered };
}

/** Wait until the app started, its worker too (it loads with the page), and the second policy (no requests, no
 * scripts) is in place. */
async function loaded(page, url, selector) {
  await page.goto(url);
  await page.waitForSelector(selector, { timeout: 30000 });
  await page.waitForFunction(() => document.documentElement.hasAttribute('data-locked'));
  await page.waitForFunction(() => document.documentElement.dataset.worker === 'ready', null, { timeout: 20000 });
}

const violations = (page) => page.evaluate(() => window.__violations);

test('after it loaded, the page makes no request: a lesson played, faults, SQL, the compare view, other lessons, a worker job', async () => {
  const { page, errors, requests, answered } = await watched();
  await loaded(page, server.base + '#lesson=basics-async', 'g.node');
  const atLoad = requests.length;
  const answeredAtLoad = answered.length;
  assert.ok(atLoad >= 3, `the page, its script, stylesheet and wasm were requested (${requests.join(', ')})`);
  const policies = await page.$$eval('meta[http-equiv=Content-Security-Policy]', (ms) => ms.map((m) => m.content));
  assert.equal(policies.length, 2, 'the load policy and the one added once the app started');
  assert.match(policies[0], /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
  assert.match(policies[1], /default-src 'none'/);
  assert.doesNotMatch(policies[1], /connect-src|'self'/, 'nothing may be fetched after load');
  for (const p of policies) assert.doesNotMatch(p, /'unsafe-eval'|script-src[^;]*'unsafe-inline'/);

  // Everything a person does, from play to another lesson.
  await page.click('[data-testid=play]');
  await page.waitForTimeout(500);
  await page.keyboard.press('Space');
  await page.click('g.node[data-node="n2"]');
  await page.click('[data-testid=crash]');
  await page.fill('[data-testid=sql-input]', "INSERT INTO users (name) VALUES ('zoe')");
  await page.click('[data-testid=send]');
  await scrubTo(page, 1500);
  await page.click('[data-testid=theme]');
  await page.click('[data-testid=show-compare]');
  await page.waitForSelector('[data-testid=compare] g.cn');
  await page.selectOption('[data-testid=compare-lesson]', 'statement-rand');
  await page.waitForFunction(() => /RAND/.test(document.querySelector('[data-testid=narration]')?.textContent || ''));
  await scrubTo(page, 2000);
  await page.click('[data-testid=run-again]');
  await page.waitForTimeout(500);
  await page.click('[data-testid=show-cluster]');
  await page.waitForSelector('g.node');
  await page.selectOption('[data-testid=lesson-select]', 'partition-heal');
  await page.waitForTimeout(300);
  // A job in the worker (started with the page, running the page's own module): no request either.
  await page.selectOption('[data-testid=lesson-select]', 'leaderless-read-repair');
  await page.click('[data-testid=tab-metrics]');
  await page.click('[data-testid=staleness-run]');
  await page.waitForSelector('[data-testid=staleness-chart] g.curve', { timeout: 60000 });
  assert.deepEqual(requests.slice(atLoad), [], 'no request after load');
  assert.deepEqual(await violations(page), [], 'nor any attempt the policy refused');

  // The policy holds: a fetch, an image and eval from the page are all refused, and none reaches the network.
  const probe = await page.evaluate(async () => {
    const out = {};
    try { await fetch('./index.html'); out.fetch = 'fetched'; } catch { out.fetch = 'refused'; }
    // In a task of the page's own: code the DevTools protocol evaluates directly is exempt from the eval check.
    await new Promise((resolve) => setTimeout(() => {
      try { out.eval = eval('1 + 1'); } catch (e) { out.eval = e.name; }
      try { out.fn = new Function('return 1')(); } catch (e) { out.fn = e.name; }
      resolve();
    }, 0));
    await new Promise((resolve) => {
      const img = new Image();
      img.onload = img.onerror = resolve;
      img.src = './x.png';
    });
    return out;
  });
  assert.deepEqual(probe, { fetch: 'refused', eval: 'EvalError', fn: 'EvalError' });
  const refused = await violations(page);
  assert.ok(refused.some((v) => v.startsWith('connect-src')), `the fetch was refused: ${refused}`);
  assert.ok(refused.some((v) => v.startsWith('img-src')), `the image was refused: ${refused}`);
  assert.ok(refused.some((v) => v.startsWith('script-src')), `eval was refused: ${refused}`);
  // Chromium reports the image it refused as a request that failed (blocked by CSP): nothing was answered.
  assert.deepEqual(answered.slice(answeredAtLoad), [], 'no request after load reached the server');
  const failed = errors.filter((e) => e.startsWith('request failed'));
  assert.ok(failed.every((e) => /csp/i.test(e)), `refused by the policy: ${failed}`);
  assert.deepEqual(errors.filter((e) => !/Content Security Policy|^request failed/.test(e)), []);
  await page.close();
});

// Markup in every free-text place a link carries: title, narration, table and column names (quoted identifiers),
// values, statements, and the error messages that quote them.
const IMG = '<img src=x onerror=window.__pwned=(window.__pwned||0)+1>';
const SCRIPT = '<script>window.__pwned=(window.__pwned||0)+1</script>';
const SVG = '<svg onload=window.__pwned=1><b id=injected>bold</b></svg>';
const TABLE = `t${IMG}`;
const COLUMN = `c${SCRIPT}`;
const scenario = {
  version: 1,
  seed: 7,
  until_ms: 1500,
  title: `Hostile ${IMG}`,
  narration: `Narration ${SCRIPT} ${SVG}`,
  nodes: [{ id: 'n1', role: 'leader' }, { id: 'n2', role: 'follower' }, { id: 'n3', role: 'follower' }],
  replication: { mode: 'async', log: 'statement' },
  network: { latency_ms: { min: 10, max: 40 }, loss: 0 },
  clients: [{ id: 'alice', route: 'leader' }],
  schema: [`CREATE TABLE "${TABLE}" (id INTEGER PRIMARY KEY AUTOINCREMENT, "${COLUMN}" TEXT, roll REAL)`],
  workload: [
    { at_ms: 100, client: 'alice', sql: `INSERT INTO "${TABLE}" ("${COLUMN}", roll) VALUES ('${IMG}', RAND())` },
    { at_ms: 300, client: 'alice', sql: `INSERT INTO "${TABLE}" ("${COLUMN}", roll) VALUES ('${SCRIPT}', RAND())` },
    { at_ms: 500, client: 'alice', sql: `INSERT INTO "${TABLE}" ("${COLUMN}", roll) VALUES ('${SVG}', RAND())` },
    { at_ms: 700, client: 'alice', sql: `SELECT * FROM "no ${IMG}"` },
    { at_ms: 900, client: 'alice', sql: `INSERT INTO "${TABLE}" ("${COLUMN}") VALUES ('late ${IMG}')` },
  ],
};
const link = (view) => server.base + '#run=' +
  Buffer.from(JSON.stringify({ v: 1, scenario, seed: 7, commands: [], at_us: 0, ...(view ? { view } : {}) })).toString('base64url');

/** No element of the payloads exists, none of their script ran, and their text is on screen as text. */
async function assertInert(page, where) {
  const found = await page.evaluate(() => ({
    imgs: document.querySelectorAll('img').length,
    scripts: [...document.scripts].filter((s) => s.textContent.includes('__pwned')).length,
    handlers: document.querySelectorAll('[onerror], [onload]').length,
    injected: document.querySelectorAll('#injected').length,
    svgs: [...document.querySelectorAll('svg')].filter((s) => s.hasAttribute('onload')).length,
    pwned: window.__pwned ?? null,
  }));
  assert.deepEqual(found, { imgs: 0, scripts: 0, handlers: 0, injected: 0, svgs: 0, pwned: null }, where);
  assert.deepEqual(await violations(page), [], `${where}: nothing even tried to run`);
}

test('a share link cannot inject markup: names, text and SQL are drawn as text in the cluster and compare views', async () => {
  const { page, errors, requests } = await watched();
  await loaded(page, link(), 'g.node');
  assert.match(await page.textContent('[data-testid=narration]'), /Narration <script>window.__pwned/);
  await scrubTo(page, 1500);
  await page.waitForTimeout(200);
  await page.click('g.node[data-node="n2"]');
  await page.waitForTimeout(200);
  const body = await page.textContent('body');
  assert.ok(body.includes(IMG) || body.includes(TABLE), 'the table name is on screen, as text');
  await assertInert(page, 'cluster view');
  await shot(page, 'security-cluster');

  // The compare view: records in flight (the SQL text), the diverged rows side by side (names and values).
  const atLoad = requests.length;
  await page.click('[data-testid=show-compare]');
  await page.waitForSelector('[data-testid=compare] g.cn');
  await scrubTo(page, 0);
  for (let i = 0; i < 150; i++) await page.keyboard.press('ArrowRight');
  const flying = await page.textContent('[data-testid=pane-statement] [data-testid=records]');
  assert.match(flying, /INSERT INTO "t<img src=x/, `the statement is listed as text: ${flying}`);
  await assertInert(page, 'compare view, records in flight');
  await scrubTo(page, 1500);
  await page.waitForFunction(() => document.querySelector('[data-testid=pane-statement]')?.dataset.verdict === 'diverged');
  const diff = await page.textContent('[data-testid=pane-statement] [data-testid=diff]');
  assert.ok(diff.includes(TABLE) && diff.includes(COLUMN), `names in the diff, as text: ${diff}`);
  assert.ok(diff.includes(SVG), 'values in the diff, as text');
  await assertInert(page, 'compare view, diverged rows');
  await shot(page, 'security-compare');
  assert.deepEqual(requests.slice(atLoad), []);
  assert.deepEqual(errors, []);
  await page.close();

  // Opened directly in the compare view, too.
  const direct = await watched();
  await loaded(direct.page, link('compare'), '[data-testid=compare] g.cn');
  await scrubTo(direct.page, 1500);
  await direct.page.waitForTimeout(300);
  await assertInert(direct.page, 'compare view from the link');
  assert.deepEqual(direct.errors, []);
  await direct.page.close();
});
