// End-to-end: leader-based replication under failure (DDIA 5.1), clicked through in the built site.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, open, shot, scrubTo } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

const nodeAttr = (page, id, attr) => page.getAttribute(`g.node[data-node="${id}"]`, `data-${attr}`);


/** [id, role, status] of every node drawn. */
const nodes = (page) => page.$$eval('g.node', (els) => els.map((e) => [e.dataset.node, e.dataset.role, e.dataset.status]));

// DDIA 5.1 failover: detect by timeout, elect a new leader, clients follow.
test('with automatic failover on, crashing the leader by clicks makes another node leader', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=basics-async');
  await page.click('[data-testid=tab-nodes]');
  assert.equal(await page.isChecked('[data-testid=auto-failover]'), false, 'the basics lesson starts without failover');
  await page.check('[data-testid=auto-failover]');
  await page.waitForFunction(() => document.querySelector('[data-testid=auto-failover]')?.checked === true);
  await scrubTo(page, 600);
  await page.click('g.node[data-node="n1"]');
  await page.click('[data-testid=crash]');
  assert.equal(await nodeAttr(page, 'n1', 'status'), 'crashed');
  await scrubTo(page, 2000);
  const after = await nodes(page);
  const leaders = after.filter(([id, role, status]) => id !== 'n1' && role === 'leader' && status === 'running');
  assert.equal(leaders.length, 1, `one of n2, n3 leads after the crash: ${JSON.stringify(after)}`);
  const [newLeader] = leaders[0];
  assert.equal(await nodeAttr(page, newLeader, 'epoch'), '2', 'the new leader leads epoch 2');
  // The election is on the timeline.
  const marker = page.locator('[data-testid=event-marker][data-kind=leader]');
  assert.ok(await marker.count() >= 1, 'a "became leader" marker is on the timeline');
  assert.match(await marker.first().getAttribute('title'), new RegExp(`${newLeader} becomes leader`));
  await shot(page, 'failover-clicked');
  // The settings change and the crash are in the share link, and it replays to the same leader.
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const again = await open(context, page.url());
  await again.page.waitForFunction((id) => document.querySelector(`g.node[data-node="${id}"]`)?.dataset.role === 'leader', newLeader, { timeout: 10000 });
  assert.deepEqual(await nodes(again.page), after);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await page.close();
  await again.page.close();
});

// DDIA 5.1 planned failover: the leader hands over to a follower a person picks.
test('"Fail over to this node" promotes the chosen follower', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=basics-async');
  await scrubTo(page, 800);
  await page.click('g.node[data-node="n3"]');
  await page.click('[data-testid=failover-to]');
  await scrubTo(page, 1600);
  assert.equal(await nodeAttr(page, 'n3', 'role'), 'leader');
  assert.equal(await nodeAttr(page, 'n1', 'role'), 'follower', 'the old leader steps down');
  assert.equal(await nodeAttr(page, 'n1', 'status'), 'running');
  await page.click('g.node[data-node="n1"]');
  assert.equal(await page.isDisabled('[data-testid=failover-to]'), false, 'a running follower can be promoted');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.1 what goes wrong: the new leader lacks the old leader's unreplicated, acknowledged writes.
test('failover-lost-writes: a new leader is elected and the anomalies panel lists lost writes', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=failover-lost-writes');
  await scrubTo(page, 1400);
  assert.equal(await nodeAttr(page, 'n1', 'role'), 'leader');
  await scrubTo(page, 2200);
  assert.equal(await nodeAttr(page, 'n1', 'status'), 'crashed');
  const leaders = (await nodes(page)).filter(([, role, status]) => role === 'leader' && status === 'running');
  assert.equal(leaders.length, 1);
  assert.notEqual(leaders[0][0], 'n1');
  await scrubTo(page, 4000);
  assert.equal(await nodeAttr(page, 'n1', 'role'), 'follower', 'the old leader learned the newer epoch and stepped down');
  assert.ok(await page.locator('[data-testid=event-marker][data-kind=discard]').count() >= 1, 'the discard is on the timeline');
  await page.click('[data-testid=tab-anomalies]');
  const panel = page.locator('[data-testid=anomalies]');
  await panel.waitFor();
  const lost = panel.locator('[data-testid=anomaly][data-kind=lost-write]');
  assert.ok(await lost.count() >= 1, 'lost writes are listed');
  assert.match(await lost.first().textContent(), /acknowledged by n1/);
  assert.equal(await page.textContent('[data-testid=anomaly-count]'), String(await panel.locator('[data-testid=anomaly]').count()));
  // A proof chip highlights its history entry.
  const chip = lost.first().locator('[data-testid=anomaly-op]').first();
  const op = await chip.getAttribute('data-op');
  await chip.click();
  const item = page.locator(`[data-testid=history-item][data-op="${op}"]`);
  await item.waitFor();
  assert.equal(await item.getAttribute('data-highlight'), 'true');
  assert.ok(await item.isVisible(), 'the highlighted entry is scrolled into view');
  await shot(page, 'failover-lost-writes');
  // Scrubbing back before the partition: nothing is lost yet.
  await scrubTo(page, 1000);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=anomaly][data-kind=lost-write]').length === 0);
  assert.deepEqual(errors, []);
  await page.close();
});

// Partitions: an added follower joins the partition a person picks, copies that partition's leader and follows it.
test('adding a follower into the second partition: it copies and follows that partition\'s leader only', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=lag-consistent-prefix');
  await scrubTo(page, 300);
  // The lag lessons open on the space-time diagram and the Lag tab: show the cluster and the Nodes tab.
  await page.click('[data-testid=view-cluster]');
  await page.click('[data-testid=tab-nodes]');
  await page.selectOption('[data-testid=add-group]', 'p2');
  await page.click('[data-testid=add-snapshot]');
  // The next free id after n1, n2, m1, m2.
  const added = await page.waitForSelector('g.node[data-node="n3"]');
  assert.ok(added);
  assert.match(await page.textContent('body'), /joins partition p2/);
  await scrubTo(page, 2900);
  const p2 = Number(await nodeAttr(page, 'm1', 'lsn'));
  const p1 = Number(await nodeAttr(page, 'n1', 'lsn'));
  assert.ok(p2 > 0 && p1 > 0);
  assert.equal(Number(await nodeAttr(page, 'n3', 'lsn')), p2, 'the new node is at p2\'s leader\'s LSN');
  await page.click('g.node[data-node="n3"]');
  await shot(page, 'add-follower-partition');
  const link = await page.evaluate(() => location.hash);
  assert.match(link, /^#run=/, 'the share link carries the added node');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.1 new follower: a consistent snapshot, then the backlog from its log position.
test('adding a follower from a snapshot: a fourth node joins and reaches the leader\'s LSN', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=basics-async');
  await scrubTo(page, 700);
  assert.equal(await page.locator('g.node').count(), 3);
  await page.click('[data-testid=add-snapshot]');
  await page.waitForSelector('g.node[data-node="n4"]');
  assert.equal(await page.locator('g.node').count(), 4);
  assert.equal(await nodeAttr(page, 'n4', 'role'), 'follower');
  await page.locator('g.node[data-node="n4"][data-joining]').waitFor({ timeout: 5000 }).catch(() => {});
  await scrubTo(page, 760);
  await shot(page, 'add-follower-joining');
  await scrubTo(page, 2900);
  const leaderLsn = Number(await nodeAttr(page, 'n1', 'lsn'));
  assert.ok(leaderLsn > 0);
  assert.equal(Number(await nodeAttr(page, 'n4', 'lsn')), leaderLsn, 'n4 caught up with the leader');
  assert.equal(await nodeAttr(page, 'n4', 'joining'), null, 'n4 finished joining');
  // A second one gets the next free id, and the link carries both.
  await page.click('[data-testid=tab-nodes]');
  await page.click('[data-testid=add-file-copy]');
  await page.waitForSelector('g.node[data-node="n5"]');
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const again = await open(context, page.url());
  await again.page.waitForSelector('g.node[data-node="n5"]');
  assert.equal(await again.page.locator('g.node').count(), 5);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await page.close();
  await again.page.close();
});

// DDIA 5.1 the timeout trade-off: too short fails over needlessly, too long stays leaderless.
test('the sweep chart shows both costs of the failover timeout', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=timeout-tradeoff');
  await page.click('[data-testid=tab-metrics]');
  const metrics = page.locator('[data-testid=metrics]');
  await metrics.waitFor();
  assert.equal(await page.locator('[data-testid=sweep-chart]').count(), 0);
  await page.click('[data-testid=sweep-run]');
  await page.waitForSelector('[data-testid=sweep-chart] g.group', { timeout: 30000 });
  const rows = await page.$$eval('[data-testid=sweep-chart] g.group', (els) => els.map((e) => ({
    timeout: Number(e.dataset.timeout), unavailable: Number(e.dataset.unavailableMs), needless: Number(e.dataset.needless),
  })));
  assert.deepEqual(rows.map((r) => r.timeout), [100, 200, 300, 500, 800, 1200]);
  assert.ok(rows[0].needless > rows[rows.length - 1].needless, `short timeouts fail over needlessly: ${JSON.stringify(rows)}`);
  assert.ok(rows[rows.length - 1].unavailable > rows[0].unavailable, `long timeouts stay leaderless longer: ${JSON.stringify(rows)}`);
  // The other two charts are drawn from the run on screen.
  await page.click('[data-testid=tab-nodes]');
  await scrubTo(page, 3000);
  await page.click('[data-testid=tab-metrics]');
  assert.ok(Number(await page.getAttribute('[data-testid=latency-chart]', 'data-count')) > 0);
  assert.ok(Number(await page.getAttribute('[data-testid=lag-chart]', 'data-series')) >= 2);
  assert.ok(await page.locator('[data-testid=lag-chart] path.series').count() >= 2);
  await page.locator('[data-testid=sweep-chart]').scrollIntoViewIfNeeded();
  await shot(page, 'sweep');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.1 split brain: nodes that follow an old leader are marked.
test('failover settings: turning epochs off rebuilds the run at the same moment', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=failover-lost-writes');
  await scrubTo(page, 1800);
  const clock = await page.textContent('[data-testid=clock]');
  assert.equal(await page.isChecked('[data-testid=epochs]'), true);
  await page.uncheck('[data-testid=epochs]');
  await page.waitForFunction(() => document.querySelector('[data-testid=epochs]')?.checked === false);
  assert.equal(await page.textContent('[data-testid=clock]'), clock, 'the run stands at the same moment');
  await page.selectOption('[data-testid=failover-timeout]', '1000');
  await page.waitForFunction(() => document.querySelector('[data-testid=failover-timeout]')?.value === '1000');
  // With a 1000 ms timeout nobody has taken over 300 ms after the crash.
  const leaders = (await nodes(page)).filter(([, role, status]) => role === 'leader' && status === 'running');
  assert.equal(leaders.length, 0, `no running leader yet: ${JSON.stringify(await nodes(page))}`);
  assert.deepEqual(errors, []);
  await page.close();
});
