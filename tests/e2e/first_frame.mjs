// A benchmark, not a test: time to the first drawn frame after navigation (issue 13: at most 600 ms), read from the
// page's own `first-frame` performance mark (set when the first run is on the page). One load in a fresh browser
// profile (nothing cached), then warm loads in the same profile (the wasm from the HTTP cache, its compiled code
// from the browser's code cache). Prints one line for scripts/bench.
import { serveDist, launch } from './harness.mjs';

const server = await serveDist();
const WARM = 5;

async function firstFrame(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => performance.getEntriesByName('first-frame').length > 0, null, { timeout: 30000 });
  const t = await page.evaluate(() => performance.getEntriesByName('first-frame')[0].startTime);
  await page.close();
  return t;
}

try {
  for (const [what, fragment] of [['the default lesson', ''], ['a multi-leader lesson', '#lesson=multi-leader-datacenters']]) {
    const context = await launch();
    try {
      const cold = await firstFrame(context, server.base + fragment);
      const warm = [];
      for (let i = 0; i < WARM; i++) warm.push(await firstFrame(context, server.base + fragment));
      warm.sort((a, b) => a - b);
      console.log(`first drawn frame, ${what}: cold ${cold.toFixed(0)} ms, warm median ${warm[WARM >> 1].toFixed(0)} ms ` +
        `(min ${warm[0].toFixed(0)}, max ${warm[WARM - 1].toFixed(0)}, ${WARM} loads) (target: at most 600 ms)`);
    } finally {
      await context.close();
    }
  }
} finally {
  await server.close();
}
