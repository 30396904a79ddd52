// End-to-end: multi-leader replication (DDIA 5.3), clicked through in the built site.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, open, shot, scrubTo } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

const nodeAttr = (page, id, attr) => page.getAttribute(`g.node[data-node="${id}"]`, `data-${attr}`);

// Figure 5-7: both leaders take a write to the same row; LWW keeps one and loses the other.
test('multi-leader: the Figure 5-7 LWW conflict shows two leaders, datacenters, the conflict and the lost update', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=multi-leader-conflict');
  // A region per datacenter, and the leaders' topology between them.
  assert.deepEqual(await page.$$eval('g.dc', (els) => els.map((e) => e.dataset.dc).sort()), ['eu', 'us']);
  assert.equal(await page.getAttribute('g.datacenters', 'data-topology'), 'all-to-all');
  assert.equal(await page.locator('g.topo-arrow').count(), 2, 'eu1 → us1 and us1 → eu1');
  assert.equal(await page.locator('g.link.inter').count(), 1, 'one leader-to-leader link across the ocean');
  // The change messages between leaders are tokens like any other message.
  await scrubTo(page, 540);
  const crossing = await page.$$eval('g.msg title', (els) => els.map((e) => e.textContent));
  assert.ok(crossing.some((t) => /eu1 → us1|us1 → eu1/.test(t)), `a change crosses between leaders: ${JSON.stringify(crossing)}`);
  await scrubTo(page, 1500);
  for (const id of ['eu1', 'us1']) {
    assert.equal(await nodeAttr(page, id, 'role'), 'leader');
    const cls = await page.getAttribute(`g.node[data-node="${id}"]`, 'class');
    assert.ok(!cls.split(' ').includes('stale'), `${id} is drawn as a leader, not a stale one: ${cls}`);
    assert.match(await page.textContent(`g.node[data-node="${id}"] .n-lag`), /accepts writes/);
  }
  await page.click('[data-testid=tab-anomalies]');
  const panel = page.locator('[data-testid=anomalies]');
  await panel.waitFor();
  const conflict = panel.locator('[data-testid=anomaly][data-kind=conflict]');
  const lost = panel.locator('[data-testid=anomaly][data-kind=lost-update]');
  await conflict.first().waitFor();
  assert.ok(await conflict.count() >= 1, 'the conflict is listed');
  assert.ok(await lost.count() >= 1, 'the lost update is listed');
  await shot(page, 'multi-leader-conflict');
  // The inspector's multi-leader section, and a command: us1 goes offline.
  await page.click('[data-testid=tab-nodes]');
  await page.click('g.node[data-node="us1"]');
  const section = page.locator('[data-testid=ml-node]');
  await section.waitFor();
  assert.match(await section.textContent(), /datacenter\s*us/);
  assert.match(await page.textContent('[data-testid=ml-vv]'), /eu1:\d+ us1:\d+/);
  await shot(page, 'multi-leader-inspector');
  // Each user writes to the leader of their datacenter; a move sends ann's writes to us1.
  assert.match(await page.textContent('g.client[data-client="bob"] .c-sub'), /us1/);
  await scrubTo(page, 300);
  assert.match(await page.textContent('g.client[data-client="ann"] .c-sub'), /eu1/);
  await page.click('[data-testid=ml-move]');
  await page.waitForFunction(() => /us1/.test(document.querySelector('g.client[data-client="ann"] .c-sub')?.textContent));
  await page.click('[data-testid=ml-offline]');
  await page.waitForFunction(() => document.querySelectorAll('g.link.cut').length > 0);
  assert.equal(await page.isDisabled('[data-testid=ml-online]'), false, 'an offline device can come back');
  await scrubTo(page, 1500);
  await shot(page, 'multi-leader-offline');
  assert.deepEqual(errors, []);
  await page.close();
});

// The other multi-leader lessons load and play to the end without errors; a ring can be reconfigured by a click.
test('multi-leader: the ring, overtaking and autoincrement lessons play; a ring is rerouted around a node', async () => {
  for (const name of ['multi-leader-overtaking', 'multi-leader-autoincrement']) {
    const { page, errors } = await open(context, server.base + '#lesson=' + name);
    await scrubTo(page, 100000);
    await page.waitForTimeout(200);
    assert.ok(await page.locator('g.dc').count() >= 2, `${name}: datacenters drawn`);
    if (name === 'multi-leader-autoincrement') {
      await page.click('[data-testid=tab-anomalies]');
      await page.locator('[data-testid=anomaly][data-kind=duplicate-key]').first().waitFor();
    }
    assert.deepEqual(errors, [], name);
    await shot(page, name);
    await page.close();
  }
  const { page, errors } = await open(context, server.base + '#lesson=multi-leader-ring');
  assert.equal(await page.getAttribute('g.datacenters', 'data-topology'), 'circular');
  assert.equal(await page.locator('g.topo-arrow').count(), 3, 'a → b → c → a');
  // b crashes at 400 ms: a's changes pile up on the stream to b until the ring is reconfigured at 1200 ms.
  await scrubTo(page, 1100);
  const queued = Number(await page.getAttribute('g.topo-arrow[data-from="a"][data-to="b"]', 'data-queued'));
  assert.ok(queued > 0, `changes wait before the failed node: ${queued}`);
  await shot(page, 'multi-leader-ring-piling');
  await scrubTo(page, 100);
  await page.click('g.node[data-node="b"]');
  await page.click('[data-testid=ml-reroute]');
  await page.waitForFunction(() => document.querySelectorAll('g.topo-arrow').length === 2);
  assert.ok(await page.locator('g.topo-arrow[data-from="a"][data-to="c"]').count() === 1, 'a sends to c now');
  await scrubTo(page, 100000);
  await shot(page, 'multi-leader-ring');
  assert.deepEqual(errors, []);
  await page.close();
});

const anomalyCount = async (page, kind) => page.locator(`[data-testid=anomaly][data-kind=${kind}]`).count();

// The conflict strategy can be changed from a leader's inspector: the run is replayed under the new strategy, and
// the acknowledged writes it discards change (LWW and replica-id lose one, merge and siblings none). A conflict
// finding opens the conflict view of its row.
test('multi-leader: switching the conflict strategy changes what is discarded; the conflict view opens for the row', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=multi-leader-conflict');
  await scrubTo(page, 100000);
  await page.click('[data-testid=tab-anomalies]');
  await page.locator('[data-testid=anomaly][data-kind=conflict]').first().waitFor();
  assert.equal(await anomalyCount(page, 'lost-update'), 1, 'lww discards one write');
  // The conflict view: both leaders, the two concurrent writes, one kept and one discarded.
  await page.click('[data-testid=open-conflict]');
  const view = page.locator('[data-testid=conflict-view]');
  await view.waitFor();
  assert.equal(await view.getAttribute('data-row'), 'pages 1');
  assert.equal(await view.locator('[data-testid=conflict-leader]').count(), 2);
  assert.equal(await view.locator('[data-testid=conflict-step][data-concurrent=true]').count(), 4, 'two concurrent writes on each leader');
  assert.equal(await view.locator('[data-testid=conflict-step][data-concurrent=true][data-kept=false]').count(), 2, 'the loser, on each leader');
  assert.equal(await page.getAttribute('[data-testid=conflict-discarded]', 'data-count'), '1');
  assert.match(await view.textContent(), /\[eu1:\d+( us1:\d+)?\]/, 'version vectors shown');
  await view.scrollIntoViewIfNeeded();
  await shot(page, 'multi-leader-conflict-view');
  await page.click('[data-testid=close-conflict]');
  await page.locator('[data-testid=conflict-view]').waitFor({ state: 'detached' });
  const expected = { merge: 0, siblings: 0, 'replica-id': 1, lww: 1 };
  for (const [strategy, lost] of Object.entries(expected)) {
    await page.click('[data-testid=tab-nodes]');
    await page.click('g.node[data-node="us1"]');
    await page.selectOption('[data-testid=ml-strategy]', strategy);
    await page.waitForFunction((s) => document.querySelector('[data-testid=ml-strategy]')?.value === s, strategy);
    await scrubTo(page, 100000);
    await page.click('[data-testid=tab-anomalies]');
    await page.locator('[data-testid=anomaly][data-kind=conflict]').first().waitFor();
    assert.equal(await anomalyCount(page, 'lost-update'), lost, `${strategy}: discarded writes`);
    if (strategy === 'siblings') {
      await page.click('[data-testid=open-conflict]');
      await page.locator('[data-testid=conflict-versions][data-count="2"]').first().waitFor();
      await shot(page, 'multi-leader-conflict-view-siblings');
      await page.click('[data-testid=close-conflict]');
    }
  }
  assert.deepEqual(errors, []);
  await page.close();
});

// Every lesson added with the siblings strategy and the 48-hour limit plays to its end without page errors and lists
// its findings.
test('multi-leader: the new lessons play to their end and show their findings', async () => {
  const lessons = {
    'multi-leader-datacenters': {},
    'multi-leader-dc-outage': {},
    'multi-leader-dc-partition': { conflict: 1, 'lost-update': 1 },
    'multi-leader-home-move': { conflict: 1, 'lost-update': 1 },
    'multi-leader-lww-skew': { 'lost-update': 1 },
    'multi-leader-star': {},
    'multi-leader-offline-calendar': { conflict: 1 },
    'multi-leader-siblings': { conflict: 1 },
    'multi-leader-collab-editing': { conflict: 1, 'lost-update': 1 },
    'multi-leader-overtaking-fixed': {},
  };
  for (const [name, want] of Object.entries(lessons)) {
    const { page, errors } = await open(context, server.base + '#lesson=' + name);
    await scrubTo(page, 48 * 3600 * 1000);
    await page.waitForTimeout(300);
    await page.click('[data-testid=tab-anomalies]');
    const panel = page.locator('[data-testid=anomalies]');
    await panel.waitFor();
    for (const [kind, n] of Object.entries(want)) {
      await page.locator(`[data-testid=anomaly][data-kind=${kind}]`).first().waitFor();
      assert.equal(await anomalyCount(page, kind), n, `${name}: ${kind}`);
    }
    const total = Object.values(want).reduce((a, b) => a + b, 0);
    assert.equal(Number(await panel.getAttribute('data-count')), total, `${name}: findings`);
    if (name === 'multi-leader-siblings' || name === 'multi-leader-offline-calendar') {
      await page.click('[data-testid=open-conflict]');
      await page.locator('[data-testid=conflict-view]').waitFor();
    }
    await shot(page, name);
    assert.deepEqual(errors, [], name);
    await page.close();
  }
  // Under several leaders the Nodes tab offers no Add follower (the core refuses it) and says why.
  const { page, errors } = await open(context, server.base + '#lesson=multi-leader-dc-outage');
  await page.click('[data-testid=tab-nodes]');
  assert.match(await page.textContent('[data-testid=add-refused]'), /Several leaders/);
  assert.equal(await page.locator('[data-testid=add-snapshot]').count(), 0);
  await page.click('g.node[data-node="eu2"]');
  assert.equal(await page.isDisabled('[data-testid=failover-to]'), true);
  assert.match(await page.textContent('[data-testid=failover-refused]'), /Several leaders/);
  await shot(page, 'multi-leader-refused-actions');
  assert.deepEqual(errors, []);
  await page.close();
});
