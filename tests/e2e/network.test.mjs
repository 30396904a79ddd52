// End-to-end: the Network tab. The far-follower lesson has a replica on another continent behind links of its own;
// a person shortens that link, gives another link its own loss, changes every message's delay, and reloads the
// share link to find the same network.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, open, shot, scrubTo } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

/** Type into a number field and commit it, as a person tabbing out of it would. */
async function setNumber(page, selector, value) {
  const input = page.locator(selector);
  await input.fill(String(value));
  await input.dispatchEvent('change');
}

const until = async (page) => Number(await page.getAttribute('[data-testid=scrubber]', 'max'));

/** The median write latency the Metrics tab reports, in ms. */
async function p50(page) {
  await page.click('[data-testid=tab-metrics]');
  const label = await page.getAttribute('[data-testid=latency-chart] svg', 'aria-label');
  const m = /p50 ([0-9.]+) (ms|s)/.exec(label);
  assert.ok(m, `latency chart label: ${label}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

const tagOf = (page, a, b) => page.locator(`g.link[data-a="${a}"][data-b="${b}"] [data-testid=link-tag]`);

test('network tab: a slow link of its own, shortened during the run, replays from the share link', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=far-follower');
  assert.equal(await tagOf(page, 'n1', 'n3').textContent(), '80–110 ms', 'the long link is labelled on the cluster');
  assert.equal(await tagOf(page, 'n1', 'n2').count(), 0, 'ordinary links carry no tag');

  await scrubTo(page, await until(page));
  const slow = await p50(page);
  assert.ok(slow > 150, `after n2 crashes, most writes wait for the distant n3 (median ${slow} ms)`);

  await scrubTo(page, 500);
  await page.click('[data-testid=tab-network]');
  await page.waitForSelector('[data-testid=network-panel]');
  const row = page.locator('[data-testid=net-link][data-link="n1-n3"]');
  assert.equal(await row.locator('[data-testid=link-min]').inputValue(), '80');
  assert.equal(await row.locator('[data-testid=link-max]').inputValue(), '110');
  await setNumber(page, '[data-testid=net-link][data-link="n1-n3"] [data-testid=link-max]', 4);
  assert.equal(await tagOf(page, 'n1', 'n3').textContent(), '4 ms', 'max below min pulls min down with it');
  await shot(page, 'network-tab');

  await scrubTo(page, await until(page));
  const fast = await p50(page);
  assert.ok(fast < 40, `with n3 a few ms away, the fallback costs little (median ${fast} ms, was ${slow})`);

  // Another link gets its own loss, then goes back to the network's settings.
  await scrubTo(page, 600);
  await page.click('[data-testid=tab-network]');
  await page.selectOption('[data-testid=net-add-link]', 'n1 — n2');
  const added = page.locator('[data-testid=net-link][data-link="n1-n2"]');
  await added.waitFor();
  await setNumber(page, '[data-testid=net-link][data-link="n1-n2"] [data-testid=link-loss]', 100);
  assert.equal(await tagOf(page, 'n1', 'n2').textContent(), 'loss 100%');
  await added.locator('[data-testid=net-link-remove]').click();
  await added.waitFor({ state: 'detached' });
  assert.equal(await tagOf(page, 'n1', 'n2').count(), 0);

  // A one-way cut: n3 stops reaching n1 while n1 still reaches n3; healing restores both.
  await page.selectOption('[data-testid=net-cut-one-way]', 'n3 → n1');
  const cutRow = page.locator('[data-testid=net-cut][data-from=n3][data-to=n1]');
  await cutRow.waitFor();
  assert.match(await cutRow.textContent(), /one way/);
  assert.equal(await page.getAttribute('g.link[data-a=n1][data-b=n3]', 'data-cut'), 'true', 'the cluster shows the cut');
  await shot(page, 'network-one-way-cut');
  await cutRow.locator('[data-testid=net-heal]').click();
  await cutRow.waitFor({ state: 'detached' });
  assert.equal(await page.getAttribute('g.link[data-a=n1][data-b=n3]', 'data-cut'), 'false');

  // Every message: a longer delay from now on; min follows when max drops below it.
  await setNumber(page, '[data-testid=net-max]', 40);
  assert.equal(await page.inputValue('[data-testid=net-max]'), '40');
  // An emptied field is refused beside the field, and changes nothing until it is corrected.
  await setNumber(page, '[data-testid=net-loss]', '');
  await page.waitForSelector('[data-testid=net-loss-error]');
  assert.match(await page.textContent('[data-testid=net-loss-error]'), /Not a number: enter a number from 0 to 100/);
  assert.equal(await page.getAttribute('[data-testid=net-loss]', 'aria-invalid'), 'true');
  await setNumber(page, '[data-testid=net-loss]', 0);
  await page.waitForSelector('[data-testid=net-loss-error]', { state: 'detached' });
  assert.equal(await page.inputValue('[data-testid=net-loss]'), '0');

  // The share link holds every change as a timed command: a reload finds the same network at the same moment.
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const url = page.url();
  const link = JSON.parse(Buffer.from(new URL(url).hash.slice('#run='.length), 'base64url').toString());
  const network = (link.commands || []).filter((c) => c.network);
  assert.ok(network.length >= 4, `network changes are commands in the link (${network.length})`);
  assert.ok(link.commands.some((c) => c.partition && c.one_way), 'the one-way cut too');
  const again = await open(context, url);
  await again.page.click('[data-testid=tab-network]');
  assert.equal(await again.page.inputValue('[data-testid=net-max]'), '40');
  assert.equal(await tagOf(again.page, 'n1', 'n3').textContent(), '4 ms');
  await shot(again.page, 'network-reloaded');
  assert.deepEqual([...errors, ...again.errors], []);
});

test('a number typed while the run plays is kept (the page redraws every frame; the field keeps the draft)', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=basics-async');
  await page.click('[data-testid=tab-network]');
  await page.click('[data-testid=play]');
  await page.click('[data-testid=net-max]', { clickCount: 3 });
  await page.keyboard.type('77', { delay: 120 });
  assert.equal(await page.$eval('[data-testid=net-max]', (e) => e.value), '77', 'the keystrokes stay while frames are drawn');
  await page.keyboard.press('Tab');
  await page.waitForTimeout(200);
  assert.equal(await page.$eval('[data-testid=net-max]', (e) => e.value), '77', 'and the change is applied');
  assert.deepEqual(errors, []);
  await page.close();
});
