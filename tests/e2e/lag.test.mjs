// End-to-end: the replication-lag views (DDIA 5.2) — the space-time diagram, the anomaly counts above it, the
// per-client routing control, the follower apply delays and the routing-policy table — in the built site.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, shot, scrubTo } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

/** Open a lesson; lag lessons open on the space-time diagram and the Lag tab. */
async function openLesson(name) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(server.base + `#lesson=${name}`);
  await page.waitForSelector('[data-testid=spacetime]', { timeout: 30000 });
  return { page, errors };
}


async function scrubToEnd(page) {
  const until = Number(await page.getAttribute('[data-testid=scrubber]', 'max'));
  await scrubTo(page, until);
  return until;
}

const count = async (page, kind) =>
  Number(await page.getAttribute(`[data-testid=lag-count][data-kind="${kind}"]`, 'data-count'));

/** Wait until the badge of `kind` satisfies `pred` (the run is rebuilt synchronously, but a render follows). */
async function waitCount(page, kind, pred, what) {
  const deadline = Date.now() + 10000;
  let n;
  while (Date.now() < deadline) {
    n = await count(page, kind);
    if (pred(n)) return n;
    await page.waitForTimeout(50);
  }
  assert.fail(`${kind}: ${what} (last seen ${n})`);
}

const clockMs = async (page) => parseFloat((await page.textContent('[data-testid=clock]')).replace(/[^0-9.]/g, ''));

// DDIA 5.2 monotonic reads
test('monotonic reads: random routing goes back in time; sticky routing fixes it', async () => {
  const { page, errors } = await openLesson('lag-monotonic-reads');
  assert.equal(await page.getAttribute('[data-testid=tab-lag]', 'aria-selected'), 'true', 'a lag lesson opens on the Lag tab');
  const until = await scrubToEnd(page);
  const before = await waitCount(page, 'monotonic-reads', (n) => n > 0, 'random routing shows monotonic-read anomalies');
  await page.selectOption('[data-testid=spacetime-window]', 'all');
  const flagged = await page.locator('[data-testid=flagged-read][data-kind~="monotonic-reads"]').count();
  assert.ok(flagged > 0, `the diagram flags monotonic reads (${flagged})`);
  assert.ok(await page.locator('[data-testid=spacetime] .st-repl').count() > 0, 'replication is drawn');
  await shot(page, 'lag-monotonic-random');

  await page.selectOption('[data-testid=lag-client-select]', 'carol');
  assert.equal(await page.inputValue('[data-testid=route-select]'), 'random');
  await page.selectOption('[data-testid=route-select]', 'sticky');
  await waitCount(page, 'monotonic-reads', (n) => n === 0, `sticky routing removes them (was ${before})`);
  assert.equal(await clockMs(page), until, 'the rebuilt run stands at the same moment');
  assert.equal(await page.locator('[data-testid=flagged-read][data-kind~="monotonic-reads"]').count(), 0);
  assert.equal(await page.inputValue('[data-testid=route-select]'), 'sticky');
  await shot(page, 'lag-monotonic-sticky');

  // Back to random: the anomalies come back, exactly as many (same seed, same commands).
  await page.selectOption('[data-testid=route-select]', 'random');
  await waitCount(page, 'monotonic-reads', (n) => n === before, 'random again gives the same count');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.2 read-after-write consistency
test('read-your-writes: random routing loses your own write; an LSN token fixes it', async () => {
  const { page, errors } = await openLesson('lag-read-your-writes');
  await scrubToEnd(page);
  await waitCount(page, 'read-your-writes', (n) => n > 0, 'random routing shows read-your-writes anomalies');
  await page.selectOption('[data-testid=spacetime-window]', 'all');
  assert.ok(await page.locator('[data-testid=flagged-read][data-kind~="read-your-writes"]').count() > 0);
  await shot(page, 'lag-ryw-random');
  await page.selectOption('[data-testid=lag-client-select]', 'ann');
  await page.selectOption('[data-testid=route-select]', 'lsn-token');
  await waitCount(page, 'read-your-writes', (n) => n === 0, 'lsn-token routing removes them');
  await shot(page, 'lag-ryw-lsn-token');
  // The leader window also fixes it, and shows its own setting.
  await page.selectOption('[data-testid=route-select]', 'leader-window');
  await page.waitForSelector('[data-testid=window-ms]');
  await waitCount(page, 'read-your-writes', (n) => n === 0, 'leader-window routing removes them');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.2 read-after-write across devices
test('cross-device: sharing the write token across the user\'s devices fixes read-after-write', async () => {
  const { page, errors } = await openLesson('lag-cross-device');
  await scrubToEnd(page);
  await waitCount(page, 'read-your-writes', (n) => n > 0, 'per-device tokens miss the other device\'s write');
  await page.selectOption('[data-testid=lag-client-select]', 'phone');
  assert.equal(await page.isChecked('[data-testid=share-token]'), false);
  await page.check('[data-testid=share-token]');
  await waitCount(page, 'read-your-writes', (n) => n === 0, 'a shared token fixes it');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.2 replication lag
test('follower apply delay: turning a follower\'s lag down removes the anomalies it caused', async () => {
  const { page, errors } = await openLesson('lag-monotonic-reads');
  await scrubToEnd(page);
  const before = await waitCount(page, 'monotonic-reads', (n) => n > 0, 'lagging n3 causes anomalies');
  const stale = await count(page, 'stale-read');
  await page.fill('[data-testid=apply-delay-ms][data-node=n3]', '0');
  await page.press('[data-testid=apply-delay-ms][data-node=n3]', 'Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid=apply-delay][data-node=n3]')?.value === '0');
  const after = await waitCount(page, 'monotonic-reads', (n) => n < before, `fewer anomalies without n3's delay (was ${before})`);
  assert.ok(await count(page, 'stale-read') <= stale);
  assert.match(await page.textContent('[data-testid=spacetime] [data-lane=n3]'), /follower|n3/);
  // And up again, with the slider: more lag, anomalies again.
  await page.$eval('[data-testid=apply-delay][data-node=n3]', (el) => {
    el.value = '1500';
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await waitCount(page, 'monotonic-reads', (n) => n > after, 'turning the delay up brings them back');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.2 the price of each fix
test('the policy table compares every routing policy and marks the current one', async () => {
  const { page, errors } = await openLesson('lag-monotonic-reads');
  await page.click('[data-testid=policies-run]');
  await page.waitForSelector('[data-testid=policy-table]', { timeout: 20000 });
  const rows = page.locator('[data-testid=policy-row]');
  assert.equal(await rows.count(), 7, 'one row per routing policy');
  const current = page.locator('[data-testid=policy-row][aria-current=true]');
  assert.equal(await current.getAttribute('data-policy'), 'random');
  assert.ok(Number(await current.getAttribute('data-anomalies')) > 0, 'random routing has anomalies');
  assert.equal(await page.getAttribute('[data-testid=policy-row][data-policy=leader]', 'data-anomalies'), '0',
    'reading from the leader never sees stale data');
  assert.match(await page.textContent('[data-testid=policy-row][data-policy=leader]'), /100%/);
  await shot(page, 'lag-policies');
  // Clicking a row routes every reader that way; the table stays valid and marks it.
  await page.click('[data-testid=policy-row][data-policy=sticky]');
  await page.waitForSelector('[data-testid=policy-row][data-policy=sticky][aria-current=true]');
  await scrubToEnd(page);
  await waitCount(page, 'monotonic-reads', (n) => n === 0, 'sticky has no monotonic-read anomalies');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the stage switches between the cluster and the space-time diagram', async () => {
  const { page, errors } = await openLesson('lag-read-your-writes');
  await scrubTo(page, 800);
  await page.click('[data-testid=view-cluster]');
  await page.waitForSelector('g.node');
  assert.equal(await page.locator('[data-testid=spacetime]').count(), 0);
  assert.equal(await page.locator('[data-testid=lag-count]').count(), 4, 'the counts stay in view');
  await page.click('[data-testid=view-spacetime]');
  await page.waitForSelector('[data-testid=spacetime] [data-lane=ann]');
  // Clicking a flagged read highlights it and its proof in the client history.
  const flagged = page.locator('[data-testid=flagged-read]').first();
  const op = await flagged.getAttribute('data-op');
  await flagged.dispatchEvent('click');
  await page.waitForSelector(`[data-testid=history-item][data-op="${op}"][data-highlight=true]`);
  await shot(page, 'lag-highlight');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.2 consistent prefix reads
test('consistent prefix: the answer before the question across partitions; partitioning by conversation fixes it', async () => {
  const broken = await openLesson('lag-consistent-prefix');
  await scrubToEnd(broken.page);
  await waitCount(broken.page, 'consistent-prefix', (n) => n > 0, 'independent partitions show an effect before its cause');
  await shot(broken.page, 'lag-consistent-prefix');
  assert.deepEqual(broken.errors, []);
  await broken.page.close();
  const fixed = await openLesson('lag-consistent-prefix-fixed');
  await scrubToEnd(fixed.page);
  await waitCount(fixed.page, 'consistent-prefix', (n) => n === 0, 'causally related writes in one partition stay in order');
  await fixed.page.close();
});
