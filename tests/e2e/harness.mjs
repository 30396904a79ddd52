// Shared harness for the end-to-end tests: a static server for dist/ on 127.0.0.1 under a sub-path (so relative
// asset URLs are tested on every run), and Debian's Chromium driven by playwright-core (never a downloaded browser).
import { createServer } from 'node:http';
import { readFile, mkdir, mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const require = createRequire(path.join(ROOT, '.tools', 'package.json'));
const { chromium } = require('playwright-core');

export const SUB_PATH = '/docs/embedded/playground/';
export const SHOTS = path.join(HERE, 'screenshots');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
};

/** Serves `dir` (default dist/, trunk's output) under SUB_PATH on 127.0.0.1. */
export async function serveDist(dir) {
  const dist = dir ? path.resolve(dir) : path.join(ROOT, 'dist');
  // Every path asked for, in order (a test counts how often the wasm was fetched).
  const hits = [];
  // Host pages a test puts beside the site (path -> HTML), e.g. a documentation page with embeds.
  const pages = new Map();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    hits.push(url.pathname);
    if (pages.has(url.pathname)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(pages.get(url.pathname));
      return;
    }
    if (!url.pathname.startsWith(SUB_PATH)) { res.writeHead(404); res.end('outside the sub-path'); return; }
    let rel = decodeURIComponent(url.pathname.slice(SUB_PATH.length)) || 'index.html';
    if (rel.includes('..')) { res.writeHead(400); res.end(); return; }
    try {
      const body = await readFile(path.join(dist, rel));
      const headers = { 'content-type': TYPES[path.extname(rel)] || 'application/octet-stream' };
      // As docs/embedding.md asks of a static host: files with trunk's content hash in their name never change.
      if (/-[0-9a-f]{16}(_bg)?\.(wasm|js|css)$/.test(rel)) headers['cache-control'] = 'public, max-age=31536000, immutable';
      res.writeHead(200, headers);
      res.end(body);
    } catch { res.writeHead(404); res.end('not found'); }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}${SUB_PATH}`;
  return { base, hits, pages, close: () => new Promise((r) => server.close(r)) };
}

export async function launch() {
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'replsim-chromium-'));
  await mkdir(SHOTS, { recursive: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1366, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return context;
}

/** Open the playground and wait until the cluster is drawn; collect page errors so tests can assert none. */
export async function open(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector('g.node', { timeout: 30000 });
  return { page, errors };
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** Seek the playground to `ms` through the scrubber, as a person dragging it would. */
/** Wait until the play button says `pressed` ('true' or 'false'): a key or click toggles it at once, but a busy
 * machine may draw the change a frame later. Fails (times out) when it never does. */
export async function playPressed(page, pressed) {
  await page.waitForFunction((want) => document.querySelector('[data-testid=play]')?.getAttribute('aria-pressed') === want,
    pressed, { timeout: 5000 });
}

export async function scrubTo(page, ms) {
  await page.$eval('[data-testid=scrubber]', (el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, ms);
}

/** A 7-node cluster with about 300 messages in flight: 6 far followers (400-600 ms away), 50 writes a second. */
export function busyScenario() {
  const nodes = [{ id: 'n1', role: 'leader' }];
  for (let i = 2; i <= 7; i++) nodes.push({ id: `n${i}`, role: 'follower' });
  const workload = [];
  for (let t = 0; t < 4000; t += 20) {
    workload.push({ at_ms: t, client: t % 40 ? 'bob' : 'alice', sql: `INSERT INTO users (name) VALUES ('u${t}')` });
  }
  return {
    version: 1, title: 'Frame budget: 7 nodes, about 300 messages in flight', seed: 1, until_ms: 6000, nodes,
    replication: { mode: 'async', log: 'logical' },
    network: { latency_ms: { min: 400, max: 600 }, loss: 0.0 },
    clients: [{ id: 'alice', route: 'leader' }, { id: 'bob', route: 'leader' }],
    schema: ['CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)'],
    workload,
  };
}
