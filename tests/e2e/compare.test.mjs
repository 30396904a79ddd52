// End-to-end: the "Compare log methods" view (DDIA 5.1, issue #3): four panes, one per log method, sharing one
// transport; divergence highlighted where statement-based replication re-runs RAND(); the workload editor; share
// links that reopen the view; stacking on a phone; the dark theme.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, open, shot, scrubTo, playPressed } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

const METHODS = ['statement', 'wal', 'logical', 'trigger'];
const pane = (m) => `[data-testid=pane-${m}]`;
const verdict = (page, m) => page.getAttribute(pane(m), 'data-verdict');
const clockMs = async (page) => parseFloat((await page.textContent('[data-testid=clock]')).replace(/[^0-9.]/g, ''));
const untilMs = async (page) => Number(await page.getAttribute('[data-testid=scrubber]', 'max'));

/** Open a URL that lands on the comparison view (harness.open waits for the cluster view's nodes). */
async function openCompare(url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector('[data-testid=compare] g.cn', { timeout: 30000 });
  return { page, errors };
}

/** The run's JSON in a `#run=` link. */
const linkJson = (url) => JSON.parse(Buffer.from(new URL(url).hash.slice('#run='.length), 'base64url').toString());
const linkOf = (base, json) => base + '#run=' + Buffer.from(JSON.stringify(json)).toString('base64url');

test('compare view: one transport, records in each method\'s form, divergence only where statements re-run RAND()', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=statement-rand');
  await page.click('[data-testid=show-compare]');
  await page.waitForSelector('[data-testid=compare]');
  assert.equal(await page.getAttribute('[data-testid=show-compare]', 'aria-pressed'), 'true');
  assert.equal(await page.locator('.cmp-pane').count(), 4);
  for (const m of METHODS) assert.ok(await page.isVisible(pane(m)), `${m} pane shown`);
  assert.match(await page.textContent('[data-testid=narration]'), /RAND/);
  assert.match(await page.inputValue('[data-testid=workload]'), /INSERT INTO dice \(roll\) VALUES \(RAND\(\)\)/);
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  assert.equal(linkJson(page.url()).view, 'compare');

  // Step (→) event by event: every pane's records in flight are drawn in the method's own form.
  const forms = {
    statement: /INSERT INTO dice/,
    wal: /^f\d p\d+\+\d+: [0-9a-f]{2} /,
    logical: /^insert dice \{id=\d+, roll=/,
    trigger: /^#\d+ dice insert \d+/,
  };
  const seen = {};
  for (let i = 0; i < 400 && Object.keys(seen).length < METHODS.length; i++) {
    await page.keyboard.press('ArrowRight');
    for (const m of METHODS) {
      if (seen[m]) continue;
      const labels = await page.$$eval(`${pane(m)} g.msg .cm-label`, (els) => els.map((e) => e.textContent));
      const hit = labels.find((l) => forms[m].test(l));
      if (hit) {
        seen[m] = hit;
        const list = await page.textContent(`${pane(m)} [data-testid=records]`);
        assert.match(list, /→/, `${m}: the records list names sender and receivers`);
        if (m === 'statement') await shot(page, 'compare-in-flight');
      }
    }
  }
  assert.deepEqual(Object.keys(seen).sort(), [...METHODS].sort(), `tokens in each method's form: ${JSON.stringify(seen)}`);
  const t = await clockMs(page);
  assert.ok(t > 0 && t < 2000, 'stepping moved the shared clock');

  // Play, then pause: the shared clock advances for all panes.
  await page.click('[data-testid=play]');
  await page.waitForTimeout(400);
  await page.keyboard.press('Space');
  await playPressed(page, 'false');
  assert.ok(await clockMs(page) > t, 'playing advanced the clock');

  await scrubTo(page, await untilMs(page));
  await page.waitForFunction(() => document.querySelector('[data-testid=pane-statement]')?.dataset.verdict === 'diverged');
  assert.match(await page.textContent(`${pane('statement')} [data-testid=verdict]`), /DIVERGE/);
  const marked = await page.locator(`${pane('statement')} td.diff mark`).count();
  assert.ok(marked >= 2, `differing cells are highlighted in the statement pane (${marked})`);
  const sides = await page.$$eval(`${pane('statement')} [data-testid=diff] caption`, (els) => els.map((e) => e.textContent));
  assert.ok(sides.some((s) => /leader/.test(s)) && sides.some((s) => /replica/.test(s)), `leader and replica side by side: ${sides}`);
  for (const m of ['logical', 'wal', 'trigger']) {
    assert.equal(await verdict(page, m), 'match', `${m}: replicas match`);
    assert.equal(await page.locator(`${pane(m)} td.diff`).count(), 0, `${m}: nothing highlighted`);
  }
  assert.match(await page.textContent(`${pane('logical')} [data-testid=verdict]`), /match/);
  const figs = await page.textContent(`${pane('trigger')} [data-testid=figures]`);
  assert.match(figs, /polls\s*\d+/, 'the trigger pane counts its polls');
  await shot(page, 'compare-statement-rand');
  assert.deepEqual(errors, []);
  await page.close();
});

test('compare view: edit the workload, run again, bad SQL is reported, the link reopens the same view', async () => {
  const { page, errors } = await openCompare(server.base + '#lesson=statement-rand&view=compare');
  // Deterministic values: statement-based replication is fine again.
  await page.fill('[data-testid=workload]', 'INSERT INTO dice (roll) VALUES (0.5)\nINSERT INTO dice (roll) VALUES (0.25)\nUPDATE dice SET roll = roll * 2');
  await page.click('[data-testid=run-again]');
  assert.equal(await page.getAttribute('[data-testid=play]', 'aria-pressed'), 'true', 'run again plays from the start');
  await page.keyboard.press('Space');
  await scrubTo(page, await untilMs(page));
  for (const m of METHODS) await page.waitForFunction((s) => document.querySelector(s)?.dataset.verdict === 'match', pane(m));
  assert.equal(await page.locator('.cmp-pane td.diff').count(), 0);
  assert.equal(await page.inputValue('[data-testid=workload]'), 'INSERT INTO dice (roll) VALUES (0.5)\nINSERT INTO dice (roll) VALUES (0.25)\nUPDATE dice SET roll = roll * 2\n');

  // A typo: a message with the line, no run, no crash.
  await page.fill('[data-testid=workload]', 'INSERT INTO dice (roll) VALUES (1)\nINSRT INTO dice (roll) VALUES (2)');
  await page.click('[data-testid=run-again]');
  assert.match(await page.textContent('[data-testid=workload-error]'), /line 2/);
  assert.equal(await verdict(page, 'statement'), 'match', 'the previous run stays on screen');
  await shot(page, 'compare-bad-sql');

  // One random and one fixed roll, from two clients: only the random row differs.
  await page.fill('[data-testid=workload]', "INSERT INTO dice (roll) VALUES (0.5)\nbob: INSERT INTO dice (roll) VALUES (RAND())");
  await page.click('[data-testid=run-again]');
  assert.equal(await page.locator('[data-testid=workload-error]').count(), 0);
  await page.keyboard.press('Space');
  await scrubTo(page, 1500);
  await page.waitForFunction(() => document.querySelector('[data-testid=pane-statement]')?.dataset.verdict === 'diverged');
  const rows = await page.$$eval('[data-testid=pane-statement] [data-testid=diff] caption', (els) => els.length);
  assert.ok(rows >= 2);
  assert.equal(await verdict(page, 'logical'), 'match');

  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const url = page.url();
  const json = linkJson(url);
  assert.equal(json.view, 'compare');
  assert.ok(json.scenario.workload.some((w) => w.client === 'bob' && /RAND/.test(w.sql)), 'the edited workload is in the link');
  const workload = await page.inputValue('[data-testid=workload]');
  const hash = await page.textContent('[data-testid=trace-hash]');
  const again = await openCompare(url);
  await again.page.waitForFunction((h) => document.querySelector('[data-testid=trace-hash]')?.textContent === h, hash, { timeout: 10000 });
  assert.equal(await again.page.inputValue('[data-testid=workload]'), workload);
  assert.ok(Math.abs(await clockMs(again.page) - 1500) < 1);
  for (const m of METHODS) assert.equal(await verdict(again.page, m), await verdict(page, m), `${m}: same verdict after reload`);
  await shot(again.page, 'compare-reloaded-from-link');

  // Back to one cluster: the same run, the link drops the view; older links (no view) open the cluster.
  await again.page.click('[data-testid=show-cluster]');
  await again.page.waitForSelector('g.node');
  await again.page.waitForFunction(() => location.hash.startsWith('#run='));
  assert.equal(linkJson(again.page.url()).view, undefined);

  // A link asking for a view that does not exist: a message, the first lesson, no crash.
  const bad = await open(context, linkOf(server.base, { ...json, view: 42 }));
  assert.match(await bad.page.textContent('[data-testid=error-banner]'), /view/);
  assert.equal(await bad.page.locator('[data-testid=compare]').count(), 0);
  assert.deepEqual(bad.errors, []);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await Promise.all([page.close(), again.page.close(), bad.page.close()]);
});

test('compare view: halted replicas show their error; panes stack on a phone; dark theme', async () => {
  const { page, errors } = await openCompare(server.base + '#lesson=wal-rolling-upgrade&view=compare');
  await scrubTo(page, await untilMs(page));
  await page.waitForFunction(() => document.querySelector('[data-testid=pane-wal]')?.dataset.verdict === 'halted');
  assert.match(await page.textContent(`${pane('wal')} [data-testid=halted]`), /format/i);
  assert.equal(await page.locator(`${pane('wal')} g.cn.halted`).count(), 1, 'the halted node is drawn so');
  assert.equal(await verdict(page, 'logical'), 'match', 'a logical log survives the rolling upgrade');
  await shot(page, 'compare-wal-rolling-upgrade');

  // Another lesson from the view's own picker: the view stays, all four runs follow.
  await page.selectOption('[data-testid=compare-lesson]', 'cdc-search-index');
  await page.waitForFunction(() => /search index/i.test(document.querySelector('[data-testid=narration]')?.textContent || ''));
  assert.equal(await page.locator('.cmp-pane').count(), 4);
  await scrubTo(page, await untilMs(page));
  await page.waitForFunction(() => document.querySelector('[data-testid=pane-statement]')?.dataset.verdict === 'halted');
  assert.match(await page.textContent(`${pane('statement')} [data-testid=halted]`), /search|statement|row/i);
  assert.equal(await verdict(page, 'logical'), 'match', 'a consumer of the logical log keeps its index');
  await shot(page, 'compare-cdc-search-index');

  await page.setViewportSize({ width: 412, height: 900 });
  await page.waitForTimeout(100);
  const boxes = await Promise.all(METHODS.map((m) => page.locator(pane(m)).boundingBox()));
  for (let i = 1; i < boxes.length; i++) assert.ok(boxes[i].y >= boxes[i - 1].y + boxes[i - 1].height - 1, 'panes stack');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.equal(overflow, false, 'no horizontal scrolling on a phone');
  await page.screenshot({ path: new URL('./screenshots/compare-phone.png', import.meta.url).pathname, fullPage: true });

  await page.setViewportSize({ width: 1366, height: 800 });
  if (await page.getAttribute('html', 'data-theme') !== 'dark') await page.click('[data-testid=theme]');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
  await page.waitForTimeout(300); // let the buttons' colour transitions finish
  await shot(page, 'compare-dark');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.1 replication logs under faults: crash a node or cut a link in one pane only. The other three panes run
// on without it; the pane says so; its run stays a pure function of scenario, seed and commands (the link carries
// the pane's own commands and reopens the same panes).
test('compare view: crash a node and cut a link in one pane only, explained on screen, carried by the link', async () => {
  const { page, errors } = await openCompare(server.base + '#lesson=statement-rand&view=compare');
  await scrubTo(page, 300);
  for (const m of METHODS) {
    assert.match(await page.textContent(`${pane(m)} [data-testid=pane-faults]`), /Crash or cut in this pane only \(the other three run on\)/);
  }
  const crashed = (m) => page.locator(`${pane(m)} g.cn.crashed`).count();
  for (const m of METHODS) assert.equal(await crashed(m), 0, `${m}: nothing is down yet`);

  await page.click(`${pane('trigger')} [data-testid=pane-crash-n2]`);
  await page.waitForSelector(`${pane('trigger')} g.cn.crashed[data-node="n2"]`);
  for (const m of ['statement', 'wal', 'logical']) assert.equal(await crashed(m), 0, `${m}: n2 still runs there`);
  assert.match(await page.textContent(`${pane('trigger')} [data-testid=pane-own]`), /crash n2 at 300 ms/);
  assert.equal(await page.locator(`${pane('trigger')} [data-testid=pane-restart-n2]`).count(), 1, 'a crashed node offers Restart');
  assert.equal(await page.locator(`${pane('wal')} [data-testid=pane-own]`).count(), 0);
  assert.match(await page.textContent('[data-testid=compare-hint]'), /In the trigger-based pane only: crash n2/);
  await page.locator(pane('trigger')).screenshot({ path: new URL('./screenshots/compare-pane-crash.png', import.meta.url).pathname });

  // Cut a link in the logical pane: its Cut button turns into Heal there only.
  await page.click(`${pane('logical')} [data-testid=pane-cut-n1-n3]`);
  await page.waitForSelector(`${pane('logical')} [data-testid=pane-heal-n1-n3]`);
  assert.equal(await page.locator(`${pane('statement')} [data-testid=pane-heal-n1-n3]`).count(), 0);
  assert.equal(await page.locator(`${pane('statement')} [data-testid=pane-cut-n1-n3]`).count(), 1);

  // Play to the end: n3, cut off in the logical pane, stays behind there; elsewhere it caught up.
  await scrubTo(page, await untilMs(page));
  await page.waitForFunction(() => document.querySelector('[data-testid=pane-logical]')?.dataset.verdict === 'behind');
  assert.equal(await verdict(page, 'wal'), 'match');
  assert.equal(await page.locator(`${pane('trigger')} g.cn.crashed[data-node="n2"]`).count(), 1, 'n2 stays down in the trigger pane');

  // The link carries each pane's own commands; opening it rebuilds the same panes.
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const json = linkJson(page.url());
  assert.deepEqual(Object.keys(json.panes).sort(), ['logical', 'trigger']);
  assert.deepEqual(json.panes.trigger, [{ at_us: 300001, crash: 'n2' }]);
  assert.deepEqual(json.commands, [], 'nothing went into the shared commands');
  const again = await openCompare(page.url());
  await again.page.waitForSelector(`${pane('trigger')} g.cn.crashed[data-node="n2"]`);
  for (const m of METHODS) assert.equal(await verdict(again.page, m), await verdict(page, m), `${m}: same verdict after reload`);
  assert.equal(await again.page.locator(`${pane('logical')} [data-testid=pane-heal-n1-n3]`).count(), 1);

  // Undo the trigger pane's crash: it runs the shared commands only again.
  await again.page.click(`${pane('trigger')} [data-testid=pane-clear]`);
  await again.page.waitForFunction(() => !document.querySelector('[data-testid=pane-trigger] g.cn.crashed'));
  assert.equal(await again.page.locator(`${pane('trigger')} [data-testid=pane-own]`).count(), 0);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await Promise.all([page.close(), again.page.close()]);
});
