// The in-browser benchmark: loads the built site's ?bench=1 page in headless Chromium and prints its result.
import { serveDist, launch } from './harness.mjs';

const server = await serveDist();
const context = await launch();
try {
  const page = await context.newPage();
  await page.goto(server.base + '?bench=1');
  const el = await page.waitForSelector('[data-testid=bench-result]', { timeout: 600000 });
  await page.waitForFunction(() => /events\/s/.test(document.querySelector('[data-testid=bench-result]').textContent), null, { timeout: 600000 });
  console.log((await el.textContent()).trim());
} finally {
  await context.close();
  await server.close();
}
