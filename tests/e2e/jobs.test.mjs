// End-to-end: the page's worker (src/web/worker.rs, www/worker.js). The staleness curve of a leaderless lesson
// (1,000 seeds) and the multi-leader strategies side by side run in it while the run on screen keeps playing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, open, shot } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

const workerReady = (page) => page.waitForFunction(() => document.documentElement.dataset.worker === 'ready', null, { timeout: 20000 });

test('staleness curve: drawn in the worker while the run plays; w = r = 1 starts below 100%, w = r = 2 stays at 100%', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=leaderless-read-repair');
  await workerReady(page);
  await page.click('[data-testid=tab-metrics]');
  await page.waitForSelector('[data-testid=staleness]');
  for (const [id, v] of [['pbs-n', 3], ['pbs-w', 1], ['pbs-r', 1], ['pbs-latency', 40]]) {
    await page.fill(`[data-testid=${id}]`, String(v));
    await page.dispatchEvent(`[data-testid=${id}]`, 'change');
  }
  assert.match(await page.textContent('[data-testid=pbs-strict]'), /w \+ r ≤ n/);
  // Play while the job runs: the page keeps drawing frames (the clock moves) before the answer comes.
  await page.click('[data-testid=play]');
  const t0 = Number(await page.$eval('[data-testid=scrubber]', (el) => el.value));
  await page.click('[data-testid=staleness-run]');
  await page.waitForSelector('[data-testid=staleness-running]');
  await page.waitForSelector('[data-testid=staleness-chart] g.curve', { timeout: 60000 });
  const t1 = Number(await page.$eval('[data-testid=scrubber]', (el) => el.value));
  assert.ok(t1 > t0, `the run kept playing while the curve ran (${t0} -> ${t1})`);
  const loose = Number(await page.getAttribute('g.curve[data-label^="n=3 w=1 r=1"]', 'data-first'));
  assert.ok(loose < 1, `w = r = 1: some reads right after the acknowledgement miss the write (${loose})`);

  for (const [id, v] of [['pbs-w', 2], ['pbs-r', 2]]) {
    await page.fill(`[data-testid=${id}]`, String(v));
    await page.dispatchEvent(`[data-testid=${id}]`, 'change');
  }
  assert.match(await page.textContent('[data-testid=pbs-strict]'), /w \+ r > n/);
  await page.click('[data-testid=staleness-run]');
  await page.waitForSelector('g.curve[data-label^="n=3 w=2 r=2"]', { timeout: 60000 });
  const strict = Number(await page.getAttribute('g.curve[data-label^="n=3 w=2 r=2"]', 'data-first'));
  assert.equal(strict, 1, 'w + r > n: every read sees the write');
  assert.equal(await page.locator('[data-testid=staleness-chart] g.curve').count(), 2, 'both curves on one chart');

  // A third curve, cancelled while it runs (between chunks of seeds): the chart keeps the two it had.
  await page.fill('[data-testid=pbs-w]', '3');
  await page.click('[data-testid=staleness-run]');
  await page.waitForSelector('[data-testid=staleness-progress]');
  await page.click('[data-testid=staleness-cancel]');
  await page.waitForSelector('[data-testid=staleness-running]', { state: 'detached' });
  await page.waitForTimeout(1500);
  assert.equal(await page.locator('[data-testid=staleness-chart] g.curve').count(), 2, 'a cancelled curve is not drawn');
  assert.ok(await page.isEnabled('[data-testid=staleness-run]'), 'and another can start');
  await page.click('[data-testid=play]').catch(() => {});
  await page.locator('[data-testid=staleness]').scrollIntoViewIfNeeded();
  await shot(page, 'jobs-staleness');
  assert.deepEqual(errors, []);
  await page.close();
});

test('strategies side by side: every conflict strategy of the Figure 5-7 lesson, LWW discards a write, merge keeps both', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=multi-leader-conflict');
  await workerReady(page);
  await page.click('[data-testid=tab-metrics]');
  await page.click('[data-testid=strategies-run]');
  await page.waitForSelector('[data-testid=strategies-table]', { timeout: 60000 });
  const rows = await page.$$eval('[data-testid=strategies-table] tbody tr', (trs) =>
    Object.fromEntries(trs.map((tr) => [tr.dataset.strategy, { discarded: Number(tr.dataset.discarded), converged: tr.dataset.converged }])));
  assert.ok(rows.lww.discarded > 0, `lww discards an acknowledged write: ${JSON.stringify(rows)}`);
  assert.equal(rows.merge.discarded, 0, `merge keeps both: ${JSON.stringify(rows)}`);
  assert.equal(rows.none.converged, 'false', `none diverges: ${JSON.stringify(rows)}`);
  assert.equal(rows.lww.converged, 'true');
  await page.locator('[data-testid=strategies]').scrollIntoViewIfNeeded();
  await shot(page, 'jobs-strategies');
  assert.deepEqual(errors, []);
  await page.close();
});
