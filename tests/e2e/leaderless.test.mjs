// End-to-end: leaderless replication (DDIA 5.4) in the built site — the three lessons load and play, an operation
// is drawn as a quorum, and the quorum controls change w or r from the moment on screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, open, shot, scrubTo } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

// The stale-read badge above the canvas (the anomalies list itself is on the Anomalies tab).
const STALE = '[data-testid=lag-count][data-kind="stale-read"]';
const staleReads = async (page) => Number(await page.getAttribute(STALE, 'data-count'));
const waitStale = (page, pred) => page.waitForFunction(([sel, p]) => {
  const n = Number(document.querySelector(sel)?.dataset.count ?? -1);
  return n >= 0 && (p === 'some' ? n > 0 : n === 0);
}, [STALE, pred], { timeout: 10000 });

test('leaderless lessons: each loads, plays to its end and draws replicas and quorums without errors', async () => {
  for (const lesson of ['leaderless-read-repair', 'leaderless-sloppy-quorum', 'leaderless-shopping-cart']) {
    const { page, errors } = await open(context, server.base + `#lesson=${lesson}`);
    const roles = await page.$$eval('g.node', (els) => els.map((e) => e.dataset.role));
    assert.ok(roles.length >= 3 && roles.every((r) => r === 'replica'), `${lesson}: every node a replica: ${roles}`);
    await page.click('[data-testid=play]');
    await page.waitForSelector('[data-testid=quorum]', { timeout: 15000 });
    const until = Number(await page.getAttribute('[data-testid=scrubber]', 'max'));
    await scrubTo(page, until);
    await page.waitForSelector('[data-testid=end]');
    assert.ok(await page.locator('[data-testid=quorum-home]').count() >= 1, `${lesson}: home replicas ringed`);
    await shot(page, `leaderless-${lesson}`);
    // A replica's inspector: its versions (with vectors) as a table.
    await page.click('g.node[data-node="a"]');
    await page.waitForSelector('text=versions');
    await shot(page, `leaderless-${lesson}-inspector`);
    assert.deepEqual(errors, [], `${lesson}: no page errors`);
    await page.close();
  }
});

test('leaderless read repair: the stale read is found, the quorum drawn, and r = 2 from the controls removes it', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=leaderless-read-repair');
  // Bob's read through c at 600 ms (c has it within 15 ms): drawn as a quorum on c, counted against r = 1.
  await scrubTo(page, 625);
  const q = page.locator('[data-testid=quorum]');
  await q.waitFor();
  assert.equal(await q.getAttribute('data-kind'), 'read');
  assert.match(await q.getAttribute('data-count'), /^1\/1 answers/);
  assert.match(await page.textContent('[data-testid=quorum-caption]'), /read kv:x/);
  assert.equal(await page.locator('[data-testid=quorum-home]').count(), 3, 'n = 3 home replicas ringed');
  await shot(page, 'leaderless-read-quorum');
  await scrubTo(page, 1500);
  await waitStale(page, 'some');
  assert.ok(await staleReads(page) >= 1, 'the lesson shows a stale read');
  // Carol's read at 800 ms has r = 2 with w + r > n: the replica it shares with alice's write is marked.
  await scrubTo(page, 830);
  await page.waitForFunction(() => document.querySelector('[data-testid=quorum]')?.dataset.kind === 'read');

  // Bad input is refused next to the control, and nothing changes.
  await scrubTo(page, 300);
  await page.fill('[data-testid=quorum-r]', '4');
  await page.dispatchEvent('[data-testid=quorum-r]', 'change');
  await page.waitForSelector('[data-testid=quorum-error]');
  assert.match(await page.textContent('[data-testid=quorum-error]'), /r = 4 is more than n = 3/);
  // r = 2 at 300 ms, before bob's read: w + r > n from then on, and his read sees the write.
  await page.fill('[data-testid=quorum-r]', '2');
  await page.dispatchEvent('[data-testid=quorum-r]', 'change');
  await page.waitForFunction(() => document.querySelector('[data-testid=quorum-strict]')?.textContent.includes('>'));
  assert.equal(await page.locator('[data-testid=quorum-error]').count(), 0);
  await scrubTo(page, 640);
  const count = await page.getAttribute('[data-testid=quorum]', 'data-count');
  assert.match(count, /\/2 answers/, `bob's read now waits for 2 answers: ${count}`);
  assert.ok(await page.locator('[data-testid=quorum-home][data-overlap=true]').count() >= 1,
    'the replica in both the write and the read set is marked');
  await shot(page, 'leaderless-r2-overlap');
  await scrubTo(page, 1500);
  await waitStale(page, 'none');
  assert.equal(await staleReads(page), 0, 'with w + r > n bob reads the write');
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  await shot(page, 'leaderless-r2-no-stale-read');
  // The change is in the share link and replays: r = 2, no stale read.
  const again = await open(context, page.url());
  await again.page.waitForFunction(() => document.querySelector('[data-testid=quorum-r]')?.value === '2');
  await waitStale(again.page, 'none');
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await again.page.close();
  await page.close();
});

test('leaderless anti-entropy turned on from the controls: a replica shows its Merkle tree against its peer', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=leaderless-read-repair');
  await scrubTo(page, 200);
  await page.check('[data-testid=quorum-anti-entropy]');
  await page.waitForFunction(() => document.querySelector('[data-testid=quorum-anti-entropy]')?.checked === true);
  await scrubTo(page, 1000);
  await page.click('g.node[data-node="c"]');
  await page.waitForSelector('[data-testid=merkle]');
  assert.ok(await page.locator('[data-testid=merkle] rect.m-cell').count() >= 31, 'root to 16 leaves drawn');
  await shot(page, 'leaderless-merkle');
  assert.deepEqual(errors, []);
  await page.close();
});
