// A benchmark, not a test: the page's frame times while a long job runs in the worker (issue 13: "nothing heavy on
// the main thread"). Plays a lesson, starts the job, and records the gap between animation frames until the answer
// is drawn. Prints one line per job for scripts/bench.
import { serveDist, launch, open, busyScenario } from './harness.mjs';

const server = await serveDist();
const context = await launch();

async function measure(lesson, run, done, what) {
  const { page } = await open(context, server.base + `#lesson=${lesson}`);
  await page.waitForFunction(() => document.documentElement.dataset.worker === 'ready', null, { timeout: 20000 });
  await page.click('[data-testid=tab-metrics]');
  await page.click('[data-testid=play]');
  await page.evaluate(() => {
    window.__gaps = [];
    let last = null;
    const tick = (t) => { if (last !== null) window.__gaps.push(t - last); last = t; if (!window.__stop) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const t0 = Date.now();
  if (run) {
    await page.click(run);
    await page.waitForSelector(done, { timeout: 120000 });
  } else {
    await page.waitForTimeout(3000);
  }
  const wall = Date.now() - t0;
  const gaps = await page.evaluate(() => { window.__stop = true; return window.__gaps.slice().sort((a, b) => a - b); });
  const q = (p) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))].toFixed(1);
  console.log(`frames while ${what} (${(wall / 1000).toFixed(1)} s, ${gaps.length} frames): ` +
    `median ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${gaps[gaps.length - 1].toFixed(1)} ms (target: under 16.7 ms)`);
  await page.close();
}

/** The page's own work per animation frame (from the frame callback to the redrawn run) while the busy cluster
 * plays at 1x: the frame budget of issue 13 (median at most 4 ms, p99 at most 10 ms). One page load plays 3 s
 * (about 170 frames), where p99 is the second-worst frame and one garbage collection decides it. The figure pools
 * `FRAME_RUNS` loads (default 10: about 1,700 frames, so that p99 is the 17th-worst frame; with 3 loads it was the
 * 5th-worst, and three pooled runs gave 7.9 to 11.0 ms). Each load's own p99 is printed too.
 * `FRAME_BUDGET_ONLY=1` stops after this figure. */
const RUNS = Number(process.env.FRAME_RUNS || 10);
async function frameBudgetRun() {
  const { page } = await open(context, server.base);
  await page.setInputFiles('[data-testid=open-file-input]',
    { name: 'busy.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(busyScenario())) });
  await page.waitForFunction(() => document.querySelectorAll('g.node').length === 7, null, { timeout: 20000 });
  await page.selectOption('[data-testid=speed]', '1');
  await page.evaluate(() => window.wasmBindings.frame_work_ms()); // (older frames are simply overwritten)
  await page.click('[data-testid=play]');
  await page.waitForTimeout(1500); // 1.5 s of simulated time: the followers' messages fill the wire
  const before = (await page.evaluate(() => window.wasmBindings.frame_work_ms())).length;
  const inFlight = [];
  for (let i = 0; i < 6; i++) {
    await page.waitForTimeout(500);
    inFlight.push(await page.$$eval('g.msgs g.msg', (els) => els.length));
  }
  const all = await page.evaluate(() => window.wasmBindings.frame_work_ms());
  await page.close();
  return { work: Array.from(all).slice(before), inFlight };
}

async function frameBudget() {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await frameBudgetRun());
  const sorted = (xs) => xs.slice().sort((a, b) => a - b);
  const quantile = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  const work = sorted(runs.flatMap((r) => r.work));
  const inFlight = sorted(runs.flatMap((r) => r.inFlight));
  const each = runs.map((r) => quantile(sorted(r.work), 0.99).toFixed(1)).join(', ');
  console.log(`frame budget, 7 nodes and ${inFlight[0]}-${inFlight[inFlight.length - 1]} messages drawn in flight ` +
    `(${work.length} frames over ${RUNS} page loads): page work per frame median ${quantile(work, 0.5).toFixed(2)} ms, ` +
    `p99 ${quantile(work, 0.99).toFixed(2)} ms, max ${work[work.length - 1].toFixed(2)} ms ` +
    `(target: median at most 4 ms, p99 at most 10 ms; p99 of each load: ${each} ms)`);
}

try {
  await frameBudget();
  if (!process.env.FRAME_BUDGET_ONLY) {
    await measure('leaderless-read-repair', null, null, 'the lesson plays, no job (3 s, the baseline)');
    await measure('leaderless-read-repair', '[data-testid=staleness-run]', '[data-testid=staleness-chart] g.curve', 'the staleness curve (1,000 seeds) runs in the worker');
    await measure('timeout-tradeoff', '[data-testid=sweep-run]', '[data-testid=sweep-chart]', 'the failover sweep (36 runs) runs in the worker');
    await measure('multi-leader-conflict', '[data-testid=strategies-run]', '[data-testid=strategies-table]', 'every conflict strategy runs in the worker');
  }
} finally {
  await context.close();
  await server.close();
}
