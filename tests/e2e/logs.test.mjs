// End-to-end: storage pages, storage formats and a rolling upgrade under WAL shipping, and the nodes of
// trigger-based replication and change data capture (DDIA 5.1 "Implementation of replication logs"), in the built site.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { serveDist, launch, open, shot, scrubTo, ROOT } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

const nodeAttr = (page, id, attr) => page.getAttribute(`g.node[data-node="${id}"]`, `data-${attr}`);

async function scrubToEnd(page) {
  const until = Number(await page.getAttribute('[data-testid=scrubber]', 'max'));
  await scrubTo(page, until);
  return until;
}

// DDIA 5.1 WAL shipping: the log describes bytes in pages, so leader and followers must run the same storage format.
test('WAL rolling upgrade: a follower upgraded from the node menu halts with an error naming both formats', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=wal-rolling-upgrade');
  assert.equal(await nodeAttr(page, 'n2', 'format'), '1', 'the canvas shows each database node\'s storage format');
  await scrubTo(page, 200);
  await page.click('g.node[data-node="n2"]');
  const upgrade = page.locator('[data-testid=upgrade]');
  assert.match(await upgrade.textContent(), /format 2/);
  await upgrade.click();
  await page.waitForFunction(() => document.querySelector('g.node[data-node="n2"]')?.dataset.format === '2');
  assert.equal(await nodeAttr(page, 'n2', 'status'), 'running', 'the upgraded node restarts');
  assert.match(await upgrade.textContent(), /back to format 1/i, 'the button now offers the way back');
  // Play on: the next WAL record is format-1 bytes.
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => document.querySelector('g.node[data-node="n2"]')?.dataset.status === 'halted',
    null, { timeout: 20000 }).catch(() => {});
  await page.click('[data-testid=play]').catch(() => {});
  await scrubTo(page, 1500);
  assert.equal(await nodeAttr(page, 'n2', 'status'), 'halted');
  const error = await page.textContent('[data-testid=node-error]');
  assert.match(error, /format 1/, error);
  assert.match(error, /format 2/, error);
  assert.match(await page.textContent('[data-testid=wal-format-help]'), /bytes/);
  assert.equal(await nodeAttr(page, 'n1', 'status'), 'running', 'the leader goes on');
  assert.ok(await page.locator('g.node[data-node="n2"] .n-pill.fmt.differs').count() === 1, 'n2\'s format badge stands out');
  await shot(page, 'wal-upgrade-halted');

  // The upgrade is in the share link and replays exactly.
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const hash = await page.textContent('[data-testid=trace-hash]');
  const again = await open(context, page.url());
  await again.page.waitForFunction((h) => document.querySelector('[data-testid=trace-hash]')?.textContent === h, hash, { timeout: 10000 });
  assert.equal(await nodeAttr(again.page, 'n2', 'status'), 'halted');
  assert.equal(await nodeAttr(again.page, 'n2', 'format'), '2');
  assert.deepEqual(again.errors, []);
  await again.page.close();

  // The leader's pages, and the bytes of one of them.
  await page.click('g.node[data-node="n1"]');
  const pages = page.locator('[data-testid=pages]');
  await pages.waitFor();
  assert.equal(await pages.getAttribute('data-format'), '1');
  assert.match(await pages.textContent(), /storage format 1/);
  assert.match(await pages.textContent(), /256-byte pages/);
  const blocks = page.locator('[data-testid=pages] button.pg');
  assert.ok(await blocks.count() >= 2, 'a catalog page and at least one page of users');
  const tablePage = page.locator('[data-testid=pages] button.pg.t0').first();
  assert.match(await tablePage.getAttribute('title'), /table users/);
  await tablePage.click();
  const dump = page.locator('[data-testid=hexdump] pre');
  await dump.waitFor();
  const lines = (await dump.textContent()).trimEnd().split('\n');
  assert.equal(lines.length, 16, '256 bytes: 16 rows of 16');
  assert.match(lines[0], /^00( [0-9a-f]{8}){4}  /, lines[0]);
  assert.match(lines[15], /^f0 /);
  assert.match(await dump.textContent(), /ann/, 'the rows are in the bytes');
  assert.ok(await dump.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), 'a row of 16 bytes fits the inspector');
  const stats = await page.textContent('[data-testid=storage-stats]');
  assert.match(stats, /rows written\s*\d+/);
  assert.match(stats, /bytes written\s*[1-9]\d*/);
  await page.setViewportSize({ width: 1366, height: 1300 });
  await page.locator('[data-testid=pages]').evaluate((el) => el.scrollIntoView());
  await shot(page, 'pages-hexdump');
  await page.setViewportSize({ width: 1366, height: 800 });
  await page.click('[data-testid=hexdump-close]');
  assert.equal(await page.locator('[data-testid=hexdump]').count(), 0);
  // n2 on format 2 draws its pages in its own format.
  await page.click('g.node[data-node="n2"]');
  assert.equal(await page.getAttribute('[data-testid=pages]', 'data-format'), '2');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.1 logical log for change data capture: another kind of store reads the leader's row changes.
test('CDC: the search index is drawn as its own kind of node and shows its documents and words', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=cdc-search-index');
  assert.equal(await nodeAttr(page, 'search', 'role'), 'cdc');
  assert.ok(await page.locator('g.node[data-node="search"] path.fold').count() === 1, 'drawn as a document');
  assert.equal(await nodeAttr(page, 'search', 'format'), null, 'no storage-format badge on a non-database node');
  await scrubToEnd(page);
  assert.match(await page.textContent('g.node[data-node="search"]'), /[1-9]\d* documents?/);
  await page.click('g.node[data-node="search"]');
  const ix = page.locator('[data-testid=search-index]');
  await ix.waitFor();
  assert.match(await ix.textContent(), /documents \(posts\.body\)/);
  const [docs, words] = await page.$$eval('[data-testid=search-index] table', (ts) => ts.map((t) => t.tBodies[0].rows.length));
  assert.ok(docs >= 1, 'documents listed');
  assert.ok(words >= 1, 'words listed');
  assert.match(await ix.textContent(), /followers/);
  await shot(page, 'cdc-search-index');
  assert.deepEqual(errors, []);
  await page.close();
});

// DDIA 5.1 trigger-based replication: triggers fill a changes table, a separate process copies a subset.
test('trigger-based: the replicator is drawn with its polls and per-target positions in the inspector', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=trigger-subset');
  assert.equal(await nodeAttr(page, 'replicator', 'role'), 'replicator');
  assert.equal(await nodeAttr(page, 'search', 'role'), 'cdc');
  // Wires from the replicator to the leader and to the search index it feeds.
  const wired = (a, b) => page.locator(`g.link[data-a="${a}"][data-b="${b}"], g.link[data-a="${b}"][data-b="${a}"]`).count();
  assert.equal(await wired('n1', 'replicator'), 1);
  assert.equal(await wired('search', 'replicator'), 1);
  await scrubTo(page, 1200);
  await shot(page, 'trigger-subset-canvas');
  await scrubToEnd(page);
  await page.click('g.node[data-node="replicator"]');
  const block = page.locator('[data-testid=replicator]');
  await block.waitFor();
  assert.match(await block.textContent(), /polls\s*[1-9]\d*/, 'it has polled');
  assert.match(await block.textContent(), /empty polls/);
  const targets = await page.$$eval('[data-testid=replicator] tbody td:first-child', (els) => els.map((e) => e.textContent));
  assert.ok(targets.includes('search'), `targets: ${targets}`);
  await shot(page, 'trigger-subset-replicator');
  // The leader keeps the triggers' changes table.
  await page.click('g.node[data-node="n1"]');
  await page.locator('[data-testid=pages]').waitFor();
  assert.match(await page.textContent('.inspector'), /_changes/);
  assert.deepEqual(errors, []);
  await page.close();
});

/** A `#run=` link for a scenario object (the share-link format of src/link.rs). */
const runLink = (scenario) => '#run=' + Buffer.from(JSON.stringify({ v: 1, scenario, seed: scenario.seed ?? 1, commands: [], at_us: 0 }))
  .toString('base64url');

// The layout holds six nodes: four replicas and two systems outside the database, none overlapping.
test('six nodes fit the canvas without overlapping', async () => {
  const scenario = JSON.parse(await readFile(path.join(ROOT, 'scenarios', 'trigger-subset.json'), 'utf8'));
  scenario.nodes.splice(2, 0, { id: 'n3', role: 'follower' }, { id: 'n4', role: 'follower' });
  const { page, errors } = await open(context, server.base + runLink(scenario));
  assert.equal(await page.locator('g.node').count(), 6);
  await scrubTo(page, 1200);
  const boxes = await page.$$eval('g.node .card', (els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return [e.closest('g.node').dataset.node, r.left, r.top, r.right, r.bottom];
  }));
  const ids = [...new Set(boxes.map((b) => b[0]))];
  assert.ok(ids.length >= 4, `nodes drawn: ${ids}`);
  const card = new Map();
  for (const [id, l, t, r, b] of boxes) {
    const c = card.get(id) || [l, t, r, b];
    card.set(id, [Math.min(c[0], l), Math.min(c[1], t), Math.max(c[2], r), Math.max(c[3], b)]);
  }
  const all = [...card.entries()];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const [a, ra] = all[i];
      const [b, rb] = all[j];
      const overlap = ra[0] < rb[2] && rb[0] < ra[2] && ra[1] < rb[3] && rb[1] < ra[3];
      assert.ok(!overlap, `${a} and ${b} overlap`);
    }
  }
  const canvas = await page.$eval('svg.canvas', (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; });
  for (const [id, r] of all) {
    assert.ok(r[0] >= canvas[0] - 1 && r[2] <= canvas[2] + 1 && r[1] >= canvas[1] - 1 && r[3] <= canvas[3] + 1, `${id} inside the canvas`);
  }
  await shot(page, 'six-nodes');
  assert.deepEqual(errors, []);
  await page.close();
});
