// End-to-end: documentation pages that embed the playground (issue 13). A host page with several embeds, using the
// height listener exactly as docs/embedding.md gives it: each iframe ends as tall as its playground wants, with no
// scrolling inside.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serveDist, launch, shot, ROOT } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

/** The host script from docs/embedding.md, so the documentation is what is tested. */
function listenerFromDocs() {
  const doc = readFileSync(path.join(ROOT, 'docs', 'embedding.md'), 'utf8');
  const m = /```html\n<script>\n([\s\S]*?)<\/script>\n```/.exec(doc);
  assert.ok(m, 'docs/embedding.md has the height listener');
  return m[1];
}

test('a host page with three embeds: each tells its height and the documented listener sizes its iframe', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const src = (f) => `${server.base}?embed=1#${f}`;
  const frames = [['a', 'lesson=basics-async', '100%'], ['b', 'lesson=multi-leader-conflict', '100%'], ['c', 'lesson=leaderless-read-repair', '55%']];
  await page.setViewportSize({ width: 900, height: 800 });
  await page.setContent(`<!doctype html><meta charset="utf-8"><body style="margin:16px">
    <h1>Chapter 5, embedded</h1>
    ${frames.map(([id, f, w]) => `<iframe id="${id}" src="${src(f)}" title="${id}" style="display:block;width:${w};height:150px;border:1px solid #ccd"></iframe>`).join('\n')}
    <script>${listenerFromDocs()}</script>`);
  await page.waitForFunction(() => ['a', 'b', 'c'].every((id) => parseFloat(document.getElementById(id).style.height) > 150),
    null, { timeout: 60000 });
  for (const [id, fragment] of frames) {
    const height = parseFloat(await page.$eval(`#${id}`, (f) => f.style.height));
    assert.ok(height >= 250 && height <= 1200, `${id}: a plausible height (${height} px)`);
    const frame = page.frames().find((f) => f.url().endsWith(fragment));
    assert.ok(frame, `${id}: the embed loaded`);
    await frame.waitForSelector('g.node');
    const inner = await frame.evaluate(() => ({ scroll: document.documentElement.scrollHeight, view: innerHeight }));
    assert.ok(inner.scroll <= inner.view + 1, `${id}: nothing to scroll inside (${inner.scroll} > ${inner.view})`);
  }
  // Narrower: the narrow embed asks for another height.
  const before = parseFloat(await page.$eval('#c', (f) => f.style.height));
  await page.$eval('#c', (f) => { f.style.width = '35%'; });
  await page.waitForFunction((h) => parseFloat(document.getElementById('c').style.height) !== h, before, { timeout: 10000 });
  await shot(page, 'embed-host-three');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an embed that plays pauses when it scrolls out of the host page\'s view', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 900, height: 700 });
  await page.setContent(`<!doctype html><meta charset="utf-8"><body style="margin:16px">
    <iframe id="a" src="${server.base}?embed=1#lesson=basics-async" title="a" style="display:block;width:100%;height:520px"></iframe>
    <div style="height:3000px">Further down the chapter…</div>`);
  let frame;
  for (let i = 0; i < 100 && !frame; i++) {
    frame = page.frames().find((f) => f.url().includes('embed=1'));
    if (!frame) await page.waitForTimeout(100);
  }
  assert.ok(frame, 'the embed loaded');
  await frame.waitForSelector('g.node');
  await frame.click('[data-testid=play]');
  assert.equal(await frame.getAttribute('[data-testid=play]', 'aria-pressed'), 'true');
  await page.evaluate(() => window.scrollTo(0, 2000));
  // (Polled by timer: an iframe out of view gets no animation frames, which waitForFunction polls with by default.)
  await frame.waitForFunction(() => document.querySelector('[data-testid=play]').getAttribute('aria-pressed') === 'false',
    null, { timeout: 5000, polling: 100 });
  // Back in view, it stays paused at its moment until the reader presses play.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  assert.equal(await frame.getAttribute('[data-testid=play]', 'aria-pressed'), 'false');
  assert.deepEqual(errors, []);
  await page.close();
});
