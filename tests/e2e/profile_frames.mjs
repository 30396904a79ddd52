// A tool, not a test: where the page's frame time goes while the busy cluster plays (issue 13's frame budget).
// Samples the main thread with Chromium's profiler (CDP) for a few seconds of playing at 1x and prints the functions
// with the most self time and with the most inclusive time. Function names need a build that keeps them (the copy
// of index.html sits beside it, so that its relative paths resolve):
//
//   sed 's/data-wasm-opt="z"/data-wasm-opt="0" data-keep-debug/' index.html > profile.html
//   trunk build --release=true --dist /tmp/profile-dist profile.html && rm profile.html
//   DIST=/tmp/profile-dist node tests/e2e/profile_frames.mjs [--seconds S] [--top N]
import { serveDist, launch, open, busyScenario } from './harness.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg('--seconds', 4);
const top = arg('--top', 40);

const server = await serveDist(process.env.DIST);
const context = await launch();
try {
  const { page } = await open(context, server.base);
  await page.setInputFiles('[data-testid=open-file-input]',
    { name: 'busy.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(busyScenario())) });
  await page.waitForFunction(() => document.querySelectorAll('g.node').length === 7, null, { timeout: 20000 });
  await page.selectOption('[data-testid=speed]', '1');
  await page.click('[data-testid=play]');
  await page.waitForTimeout(1500);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  const before = (await page.evaluate(() => window.wasmBindings.frame_work_ms())).length;
  await cdp.send('Profiler.start');
  await page.waitForTimeout(seconds * 1000);
  const { profile } = await cdp.send('Profiler.stop');
  const work = (await page.evaluate(() => window.wasmBindings.frame_work_ms())).slice(before).sort((a, b) => a - b);
  const frames = work.length;
  const q = (p) => work[Math.min(frames - 1, Math.floor(p * frames))].toFixed(2);
  console.log(`${frames} frames, page work per frame median ${q(0.5)} ms, p99 ${q(0.99)} ms`);

  // Self time per node from the samples, then per function name; inclusive time by walking up the parents.
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) || 0) + (profile.timeDeltas[i] || 0)));
  const name = (n) => n.callFrame.functionName || `(${n.callFrame.url.split('/').pop() || 'anonymous'})`;
  const self = new Map();
  const incl = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const nm = name(n);
    if (nm === '(idle)' || nm === '(program)') continue;
    total += us;
    self.set(nm, (self.get(nm) || 0) + us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cn = name(byId.get(cur));
      if (seen.has(cn)) continue;
      seen.add(cn);
      incl.set(cn, (incl.get(cn) || 0) + us);
    }
  }
  const per = (us) => `${(us / 1000 / Math.max(1, frames)).toFixed(3)} ms/frame`;
  const pct = (us) => `${((100 * us) / total).toFixed(1)}%`.padStart(6);
  console.log(`busy main thread (not idle): ${(total / 1000).toFixed(0)} ms in ${seconds} s, ${per(total)}`);
  console.log('\nself time:');
  for (const [nm, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${per(us)}  ${nm.slice(0, 140)}`);
  console.log('\ninclusive time:');
  for (const [nm, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${per(us)}  ${nm.slice(0, 140)}`);
  await page.close();
} finally {
  await context.close();
  await server.close();
}
