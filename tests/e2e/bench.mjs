// The in-browser benchmark: loads the built site's ?bench=1 page in headless Chromium and prints its result. Each
// half (the engine, then the long-run seeks) in a page of its own: a fresh wasm instance and heap for each, as each
// native figure is a process of its own.
import { serveDist, launch } from './harness.mjs';

const server = await serveDist();
const context = await launch();
try {
  for (const part of ['engine', 'seek']) {
    const page = await context.newPage();
    await page.goto(server.base + `?bench=1&part=${part}`);
    const el = await page.waitForSelector('[data-testid=bench-result]', { timeout: 600000 });
    await page.waitForFunction(() => /events\/s/.test(document.querySelector('[data-testid=bench-result]').textContent), null, { timeout: 600000 });
    console.log((await el.textContent()).trim());
    await page.close();
  }
} finally {
  await context.close();
  await server.close();
}
