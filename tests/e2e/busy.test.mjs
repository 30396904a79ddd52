// End-to-end: a busy cluster (7 nodes, hundreds of messages in flight) as the page draws it frame after frame
// (issue 13's frame budget). The tokens are drawn outside the virtual DOM (src/web/components/tokens.rs) and the
// client history redraws only the entries that changed (components/memo.rs): this checks what a person sees of
// both, and that neither leaves anything behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, open, shot, busyScenario } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

test('a busy cluster: hundreds of tokens without labels, each named in its tooltip; history entries are kept, not rebuilt', async () => {
  const { page, errors } = await open(context, server.base);
  await page.setInputFiles('[data-testid=open-file-input]',
    { name: 'busy.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(busyScenario())) });
  await page.waitForFunction(() => document.querySelectorAll('g.node').length === 7, null, { timeout: 20000 });
  await page.selectOption('[data-testid=speed]', '1');
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => document.querySelectorAll('g.msgs g.msg').length > 100, null, { timeout: 20000 });
  // The entries on screen now, remembered as elements: a second later, those still listed are the same elements.
  await page.evaluate(() => { window.__entries = [...document.querySelectorAll('[data-testid=history-item]')]; });
  await page.waitForTimeout(1000);
  const seen = await page.evaluate(() => {
    const now = new Set(document.querySelectorAll('[data-testid=history-item]'));
    const ops = [...document.querySelectorAll('[data-testid=history-item]')].map((e) => Number(e.dataset.op));
    const kept = window.__entries.filter((e) => e.isConnected);
    const stillListed = window.__entries.filter((e) => [...now].some((n) => n.dataset.op === e.dataset.op));
    const tokens = [...document.querySelectorAll('g.msgs g.msg')];
    return {
      ops, kept: kept.length, stillListed: stillListed.length,
      tokens: tokens.length,
      labels: document.querySelectorAll('g.msgs .m-label').length,
      titled: tokens.filter((t) => /^\w+ \w+ → \w+: ./.test(t.querySelector('title')?.textContent ?? '')).length,
      ids: new Set(tokens.map((t) => t.dataset.msg)).size,
    };
  });
  assert.ok(seen.tokens > 100, `hundreds of messages in flight (${seen.tokens})`);
  assert.equal(seen.labels, 0, 'past 48 tokens, none carries a label');
  assert.equal(seen.titled, seen.tokens, 'every token names its kind, sender and receiver in its tooltip');
  assert.equal(seen.ids, seen.tokens, 'one token per message');
  assert.ok(seen.stillListed > 0, 'some entries are still listed a second later');
  assert.equal(seen.kept, seen.stillListed, 'an entry still listed is the same element as before (redrawn only when it changes)');
  assert.deepEqual(seen.ops, [...seen.ops].sort((a, b) => b - a), 'the history is latest first');
  await shot(page, 'busy-cluster');
  // Pause, go back to the start: the tokens on screen are exactly the messages in flight then (none left over).
  await page.click('[data-testid=play]');
  await page.click('[data-testid=restart]');
  await page.waitForFunction(() => document.querySelectorAll('g.msgs g.msg').length < 20, null, { timeout: 10000 });
  const atStart = await page.$$eval('g.msgs g.msg', (els) => els.map((e) => e.dataset.msg));
  assert.equal(new Set(atStart).size, atStart.length, 'no token drawn twice after a seek');
  // The space-time view and back: the canvas is drawn again, with its tokens, into its new layer.
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => document.querySelectorAll('g.msgs g.msg').length > 10, null, { timeout: 10000 });
  await page.click('[data-testid=view-spacetime]');
  await page.waitForSelector('[data-testid=spacetime]');
  await page.click('[data-testid=view-cluster]');
  await page.waitForFunction(() => document.querySelectorAll('g.msgs g.msg').length > 10, null, { timeout: 10000 });
  const back = await page.$$eval('g.msgs g.msg', (els) => els.map((e) => e.dataset.msg));
  assert.equal(new Set(back).size, back.length, 'after the space-time view, each message has one token');
  assert.deepEqual(errors, []);
});
