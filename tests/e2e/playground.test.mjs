// End-to-end: the built site, served from a sub-path on 127.0.0.1, in Debian's headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { serveDist, launch, open, shot, scrubTo, playPressed } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

const nodeAttr = (page, id, attr) => page.getAttribute(`g.node[data-node="${id}"]`, `data-${attr}`);
const clockMs = async (page) => parseFloat((await page.textContent('[data-testid=clock]')).replace(/[^0-9.]/g, ''));


test('the page loads, explains itself and draws a three-node cluster', async () => {
  const { page, errors } = await open(context, server.base);
  // The first drawn frame is marked for the benchmarks (tests/e2e/first_frame.mjs reads the same mark).
  const mark = await page.evaluate(() => performance.getEntriesByName('first-frame').map((e) => e.startTime));
  assert.equal(mark.length, 1, 'one first-frame mark');
  assert.ok(mark[0] > 0);
  assert.equal(await page.locator('g.node').count(), 3);
  assert.equal(await nodeAttr(page, 'n1', 'role'), 'leader');
  assert.match(await page.textContent('[data-testid=narration]'), /leader/i);
  await shot(page, 'initial');
  assert.deepEqual(errors, []);
  await page.close();
});

test('play moves message tokens from node to node', async () => {
  const { page, errors } = await open(context, server.base);
  await page.click('[data-testid=play]');
  assert.equal(await page.getAttribute('[data-testid=play]', 'aria-pressed'), 'true');
  // Watch one token frame by frame until it is drawn somewhere else. A token that is no longer on screen (it
  // arrived between two frames of a busy machine) is not a token that moved: then watch the next one, up to ten.
  let id, first, second;
  for (let attempt = 0; attempt < 10; attempt++) {
    await page.waitForSelector('g.msg', { timeout: 10000 });
    // The newest token and where it is, read in one step (a token can arrive between two separate reads).
    [id, first] = await page.evaluate(() => {
      const all = document.querySelectorAll('g.msg');
      const el = all[all.length - 1];
      return el ? [el.dataset.msg, el.getAttribute('transform') || el.getBoundingClientRect().x.toString()] : [null, null];
    });
    if (first === null) continue;
    const seen = await page.waitForFunction(([msg, from]) => {
      const el = document.querySelector(`g.msg[data-msg="${msg}"]`);
      if (!el) return 'gone';
      const at = el.getAttribute('transform') || el.getBoundingClientRect().x.toString();
      return at !== from ? at : false;
    }, [id, first], { timeout: 5000 });
    second = await seen.jsonValue();
    if (second !== 'gone') break;
  }
  assert.ok(first !== null && first !== undefined, `token ${id} drawn`);
  assert.notEqual(second, 'gone', `one of ten tokens is still on screen when it is seen again (last: ${id})`);
  assert.notEqual(second, first, `token ${id} moved (${first} -> ${second})`);
  const t0 = await clockMs(page);
  await page.waitForTimeout(500);
  assert.ok(await clockMs(page) > t0, 'simulated time advances while playing');
  await shot(page, 'playing');
  await page.click('[data-testid=play]');
  assert.equal(await page.getAttribute('[data-testid=play]', 'aria-pressed'), 'false');
  assert.deepEqual(errors, []);
  await page.close();
});

test('clicking a node and Crash crashes it; the timeline scrubs back and forth', async () => {
  const { page, errors } = await open(context, server.base);
  await scrubTo(page, 600);
  await page.click('g.node[data-node="n2"]');
  await page.click('[data-testid=crash]');
  assert.equal(await nodeAttr(page, 'n2', 'status'), 'crashed');
  await shot(page, 'crashed');
  await scrubTo(page, 2500);
  const leaderLsn = Number(await nodeAttr(page, 'n1', 'lsn'));
  const crashedLsn = Number(await nodeAttr(page, 'n2', 'lsn'));
  assert.ok(crashedLsn < leaderLsn, `crashed n2 (${crashedLsn}) falls behind n1 (${leaderLsn})`);
  assert.equal(Number(await nodeAttr(page, 'n3', 'lsn')), leaderLsn, 'n3 keeps up');
  await scrubTo(page, 300);
  assert.equal(await nodeAttr(page, 'n2', 'status'), 'running', 'before the crash, n2 runs');
  assert.ok(Math.abs(await clockMs(page) - 300) < 1);
  await scrubTo(page, 2500);
  assert.equal(Number(await nodeAttr(page, 'n2', 'lsn')), crashedLsn, 'seeking forward again lands on the same state');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a copied link reloads to the same run and state', async () => {
  const { page, errors } = await open(context, server.base);
  await scrubTo(page, 500);
  await page.click('g.node[data-node="n3"]');
  await page.click('[data-testid=crash]');
  await scrubTo(page, 1200);
  await page.click('g.node[data-node="n3"]');
  await page.click('[data-testid=restart-node]');
  await scrubTo(page, 1700);
  await page.fill('[data-testid=sql-input]', "INSERT INTO users (name) VALUES ('zoe')");
  await page.click('[data-testid=send]');
  await scrubTo(page, 2000);
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const url = page.url();
  const hash = await page.textContent('[data-testid=trace-hash]');
  const lsns = await page.$$eval('g.node', (els) => els.map((e) => [e.dataset.node, e.dataset.lsn, e.dataset.status]));
  const again = await open(context, url);
  await again.page.waitForFunction((h) => document.querySelector('[data-testid=trace-hash]')?.textContent === h, hash, { timeout: 10000 });
  const lsns2 = await again.page.$$eval('g.node', (els) => els.map((e) => [e.dataset.node, e.dataset.lsn, e.dataset.status]));
  assert.deepEqual(lsns2, lsns);
  assert.ok(Math.abs(await clockMs(again.page) - 2000) < 1);
  await shot(again.page, 'reloaded-from-link');
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await page.close();
  await again.page.close();
});

test('a malformed link shows a readable message and the default scenario', async () => {
  const { page } = await open(context, server.base + '#run=eyJ2IjoxLCJzY2Vu');
  const banner = await page.textContent('[data-testid=error-banner]');
  assert.match(banner, /damaged|invalid/i);
  assert.equal(await page.locator('g.node').count(), 3);
  await shot(page, 'malformed-link');
  await page.close();
});

test('embed mode is compact and has no chrome', async () => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 600, height: 400 });
  await page.goto(server.base + '?embed=1');
  await page.waitForSelector('g.node');
  assert.ok(await page.$eval('body', (b) => b.classList.contains('embed')));
  assert.equal(await page.locator('[data-testid=lesson-select]').count(), 0);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, 'no horizontal scrolling in a 600 px iframe');
  await shot(page, 'embed');
  await page.close();
});

test('keyboard: space plays and pauses, arrows step', async () => {
  const { page } = await open(context, server.base);
  await page.keyboard.press('Space');
  await playPressed(page, 'true');
  await page.keyboard.press('Space');
  await playPressed(page, 'false');
  const t0 = await clockMs(page);
  await page.keyboard.press('ArrowRight');
  assert.ok(await clockMs(page) > t0, 'a step advances to the next event');
  await page.close();
});

test('the browser run and the native CLI agree exactly (same trace hash)', async () => {
  const replsim = process.env.REPLSIM;
  assert.ok(replsim, 'REPLSIM points at the release binary');
  for (const lesson of ['basics-async', 'lossy-network']) {
    const report = JSON.parse(execFileSync(replsim, ['run', `lesson:${lesson}`]).toString());
    const { page } = await open(context, server.base + `#lesson=${lesson}`);
    await scrubTo(page, report.until_ms);
    const hash = await page.textContent('[data-testid=trace-hash]');
    assert.equal(hash, report.trace_hash, `${lesson}: wasm and native runs are identical`);
    await page.close();
  }
});

test('the lesson picker switches scenarios and the dark theme applies', async () => {
  const { page } = await open(context, server.base);
  await page.selectOption('[data-testid=lesson-select]', 'statement-rand');
  await page.waitForFunction(() => /RAND/.test(document.querySelector('[data-testid=narration]')?.textContent || ''));
  // The theme persists in localStorage across the tests' pages, so start from whichever it is now.
  const before = await page.getAttribute('html', 'data-theme');
  assert.ok(before === 'dark' || before === 'light', `a theme is set at start (${before})`);
  const other = before === 'dark' ? 'light' : 'dark';
  await page.click('[data-testid=theme]');
  await page.waitForFunction((t) => document.documentElement.getAttribute('data-theme') === t, other,
    { timeout: 5000 }).catch(() => {});
  const theme = await page.getAttribute('html', 'data-theme');
  assert.equal(theme, other, `the theme button toggles ${before} to ${other}`);
  await scrubTo(page, 2000);
  await shot(page, `statement-rand-${theme}`);
  await page.close();
});

test('a statement too long for a share link is refused at the input, and what was typed stays', async () => {
  const { page, errors } = await open(context, server.base);
  // 10,000 characters pass the input's maxlength, but "é" is two bytes each: 20,000 bytes, over the 10,000-byte limit.
  const text = "INSERT INTO users (name) VALUES ('" + 'é'.repeat(9950) + "')";
  await page.fill('[data-testid=sql-input]', text);
  await page.waitForSelector('[data-testid=sql-too-long]', { timeout: 5000 });
  assert.match(await page.textContent('[data-testid=sql-too-long]'), /Too long to send/);
  assert.equal(await page.isDisabled('[data-testid=send]'), true, 'Send is disabled');
  assert.equal(await page.inputValue('[data-testid=sql-input]'), text, 'the text is kept');
  await shot(page, 'sql-too-long');
  await page.fill('[data-testid=sql-input]', "INSERT INTO users (name) VALUES ('ok')");
  await page.waitForSelector('[data-testid=sql-too-long]', { state: 'detached', timeout: 5000 });
  assert.equal(await page.isDisabled('[data-testid=send]'), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('skip to the next event: the button and N jump from one statement to the next, then to the end', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=basics-async');
  assert.match(await page.getAttribute('[data-testid=skip-next]', 'title'), /100\.000 ms/);
  await page.click('[data-testid=skip-next]');
  assert.equal(await clockMs(page), 100, 'the first statement is at 100 ms');
  await page.keyboard.press('n');
  assert.equal(await clockMs(page), 250, 'N skips to the second, at 250 ms');
  for (let i = 0; i < 40 && !(await page.$('[data-testid=end]')); i++) await page.click('[data-testid=skip-next]');
  assert.equal(await clockMs(page), 3000, 'after the last statement, the end');
  assert.ok(await page.isDisabled('[data-testid=skip-next]'));
  // Long runs: the speed list reaches an hour per second.
  const speeds = await page.$$eval('[data-testid=speed] option', (os) => os.map((o) => o.textContent));
  assert.ok(speeds.includes('1 h/s'), speeds.join(', '));
  assert.deepEqual(errors, []);
  await page.close();
});
