// End-to-end: documentation pages that embed the playground (issue 13). A host page with several embeds, using the
// height listener exactly as docs/embedding.md gives it: each iframe ends as tall as its playground wants, with no
// scrolling inside. Embeds as `replsim embed` prints them: a still picture of the first moment until the reader
// reaches one, the wasm fetched once for all of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
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

/** The snippet `replsim embed` prints for a lesson, pointing at the test server. */
function snippet(lesson, height = 420) {
  const replsim = process.env.REPLSIM;
  assert.ok(replsim, 'REPLSIM points at the release binary');
  return execFileSync(replsim, ['embed', `lesson:${lesson}`, '--base', server.base, '--height', String(height)],
    { encoding: 'utf8' }).trim();
}

const wasmFetches = () => server.hits.filter((p) => p.endsWith('.wasm')).length;

/** Wait for the frame of `lesson`'s playground (once its iframe has followed the still's link). */
async function playground(page, lesson) {
  for (let i = 0; i < 300; i++) {
    const f = page.frames().find((x) => x.url().includes('embed=1') && x.url().endsWith(`lesson=${lesson}`));
    if (f) { await f.waitForSelector('g.node', { timeout: 30000 }); return f; }
    await page.waitForTimeout(100);
  }
  assert.fail(`the embed of ${lesson} never loaded the playground`);
}

/** Open `html` as a host page served with a real origin, as a documentation site is (about:blank's opaque origin
 *  shares no HTTP cache between frames; and Playwright's request routing would turn the cache off). */
let hosts = 0;
async function host(page, html) {
  const path = `/host-${++hosts}.html`;
  server.pages.set(path, html);
  await page.goto(new URL(path, server.base).href);
}

const FIVE = ['basics-async', 'multi-leader-datacenters', 'leaderless-read-repair', 'controller-failover', 'lag-read-your-writes'];

test('five still embeds on a long page: the wasm loads once, only for the embeds the reader scrolls to', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 900, height: 700 });
  const before = wasmFetches();
  await host(page, `<!doctype html><meta charset="utf-8"><body style="margin:16px">
    ${FIVE.map((l) => `<section id="${l}" style="margin-bottom:1800px">${snippet(l)}</section>`).join('\n')}`);
  // The first is in view: it loads the playground, which opens at the same first moment the still showed.
  const first = await playground(page, FIVE[0]);
  assert.ok(await first.$('[data-node=n1][data-role=leader]'));
  assert.equal(wasmFetches() - before, 1, 'one fetch of the wasm');
  await page.waitForTimeout(1500);
  const live = () => page.frames().filter((f) => f.url().includes('embed=1')).length;
  assert.equal(live(), 1, 'the embeds out of view still show their picture');
  // Scrolling to the third loads it, from the cache.
  await page.evaluate(() => document.getElementById('leaderless-read-repair').scrollIntoView());
  const third = await playground(page, 'leaderless-read-repair');
  assert.ok(await third.$('[data-node=a][data-role=replica]'));
  assert.equal(live(), 2);
  assert.equal(wasmFetches() - before, 1, 'the second embed took the wasm from the cache');
  await shot(page, 'embed-still-loaded');
  assert.deepEqual(errors, []);
  await page.close();
});

test('under a host page that refuses scripts, a still embed shows the first moment and loads on a click', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 900, height: 1100 });
  const before = wasmFetches();
  // The host's policy is inherited by the stills (srcdoc): their script cannot run, so only a click loads one.
  await host(page, `<!doctype html><meta charset="utf-8">
    <meta http-equiv="Content-Security-Policy" content="script-src 'none'">
    <body style="margin:16px"><h1>Chapter 5, strict host</h1>
    ${FIVE.slice(0, 2).map((l) => `<section id="${l}">${snippet(l, 480)}</section>`).join('\n')}`);
  let stills = [];
  for (let i = 0; i < 100 && stills.length < 2; i++) {
    stills = page.frames().filter((f) => f.url() === 'about:srcdoc');
    if (stills.length < 2) await page.waitForTimeout(100);
  }
  assert.equal(stills.length, 2, 'both embeds show their still');
  const pictures = await Promise.all(stills.map((f) => f.$$eval('svg.still g.node', (gs) => gs.map((g) => g.dataset.node))));
  assert.deepEqual(pictures.map((p) => p.sort()), [['n1', 'n2', 'n3'], ['eu1', 'eu2', 'us1', 'us2']]);
  // Every node is drawn where the live canvas would draw it (the same layout code), inside the picture.
  const box = await stills[0].$eval('svg.still', (s) => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
  assert.ok(box[0] > 500 && box[1] > 250, `the picture fills the embed (${box})`);
  await page.waitForTimeout(1000);
  assert.equal(wasmFetches() - before, 0, 'nothing of the playground is fetched before a click');
  await shot(page, 'embed-stills');
  await stills[1].click('a');
  const dc = await playground(page, 'multi-leader-datacenters');
  assert.deepEqual((await dc.$$eval('g.node', (gs) => gs.map((g) => g.dataset.node))).sort(), ['eu1', 'eu2', 'us1', 'us2']);
  assert.ok(wasmFetches() - before <= 1);
  assert.deepEqual(errors, []);
  await page.close();
});
