// End-to-end: every kind of bad input a person can give (a link, SQL, a scenario file, a number in a form) is
// refused where it was given, with a reason they can act on, and what they had stays (issue 14).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serveDist, launch, open, shot, scrubTo, ROOT } from './harness.mjs';

let server, context;
before(async () => { server = await serveDist(); context = await launch(); });
after(async () => { await context?.close(); await server?.close(); });

const lesson = (name) => readFileSync(path.join(ROOT, 'scenarios', `${name}.json`), 'utf8');
const selectedLesson = (page) => page.$eval('[data-testid=lesson-select]', (s) => s.value);
const banner = (page) => page.textContent('[data-testid=error-banner]');

test('links: cut off, to no lesson, with an invalid scenario or command: each says why and opens the first lesson', async () => {
  // A real link to start from: the page writes one as soon as the run changes.
  const { page, errors } = await open(context, server.base + '#lesson=multi-leader-conflict');
  await scrubTo(page, 300);
  await page.fill('[data-testid=sql-input]', "UPDATE items SET qty = 1 WHERE id = 1");
  await page.click('[data-testid=send]');
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const link = JSON.parse(Buffer.from(new URL(page.url()).hash.slice('#run='.length), 'base64url').toString());
  const withLink = (obj) => server.base + '#run=' + Buffer.from(JSON.stringify(obj)).toString('base64url');

  const invalidRole = structuredClone(link);
  invalidRole.scenario.nodes[1].role = 'boss';
  const unknownClient = structuredClone(link);
  unknownClient.commands[0].client = 'nobody';
  const full = '#run=' + Buffer.from(JSON.stringify(link)).toString('base64url');
  const cases = [
    [server.base + full.slice(0, Math.floor(full.length * 0.6)), /damaged/],
    [server.base + '#lesson=no-such-lesson', /no lesson called .no-such-lesson./],
    [withLink(invalidRole), /scenario in this link is invalid: nodes\[1\]\.role/],
    [withLink(unknownClient), /command in this link is invalid: commands\[0\]/],
    [server.base + '#run=' + Buffer.from(JSON.stringify({ ...link, v: 7 })).toString('base64url'), /another version/],
  ];
  for (const [url, why] of cases) {
    await page.goto('about:blank');
    await page.goto(url);
    await page.waitForSelector('[data-testid=error-banner]', { timeout: 30000 });
    assert.match(await banner(page), why, url);
    assert.equal(await page.evaluate(() => location.hash), new URL(url).hash,
      'the link stays in the address bar, to be copied or corrected, until the person changes the run');
    assert.equal(await selectedLesson(page), 'basics-async', 'the first lesson is on screen');
    assert.equal(await page.locator('g.node').count(), 3);
  }
  await shot(page, 'bad-link-invalid-command');
  assert.deepEqual(errors, []);
  await page.close();
});

test('SQL that does not parse is answered by the database in the client history, and the statement stays typed', async () => {
  const { page, errors } = await open(context, server.base);
  const bad = 'INSERT INTO users (name VALUES (1';
  await page.fill('[data-testid=sql-input]', bad);
  await page.click('[data-testid=send]');
  await scrubTo(page, 1000); // the statement travels to the leader and its answer comes back
  const entry = page.locator('[data-testid=history] li', { hasText: bad });
  await entry.waitFor();
  await page.waitForFunction((b) => [...document.querySelectorAll('[data-testid=history] li')]
    .some((li) => li.textContent.includes(b) && /error/.test(li.textContent)), bad, { timeout: 10000 });
  const text = await entry.textContent();
  assert.match(text, /near "VALUES": syntax error/, `the database says where it stopped, as SQLite does: ${text}`);
  assert.equal(await page.inputValue('[data-testid=sql-input]'), bad, 'what was typed stays, to be corrected');
  assert.equal(await page.locator('[data-testid=error-banner]').count(), 0, 'no page-wide error: the answer is in its place');
  await shot(page, 'bad-sql');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a runaway statement (a trigger cascade) is canceled by the database with a reason, and the page goes on', async () => {
  // 512 rows, and a trigger that updates every other row for each row inserted: the INSERT below would change
  // 262,000 rows. The engine stops it at its work limit and undoes it (as a statement_timeout would).
  const scenario = {
    version: 1, seed: 3, until_ms: 2000,
    nodes: [{ id: 'n1', role: 'leader' }, { id: 'n2', role: 'follower' }],
    replication: { mode: 'async', log: 'statement' },
    clients: [{ id: 'alice', route: 'leader' }],
    schema: [
      'CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER)',
      'INSERT INTO t (c) VALUES (0)',
      ...Array(9).fill('INSERT INTO t (c) SELECT c FROM t'),
      'CREATE TRIGGER spread AFTER INSERT ON t BEGIN UPDATE t SET c = c + 1 WHERE id <> NEW.id; END',
    ],
    workload: [
      { at_ms: 100, client: 'alice', sql: 'INSERT INTO t (c) SELECT c FROM t' },
      { at_ms: 300, client: 'alice', sql: 'UPDATE t SET c = 5 WHERE id = 1' },
    ],
  };
  const { page, errors } = await open(context, server.base);
  await page.setInputFiles('[data-testid=open-file-input]',
    { name: 'cascade.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(scenario)) });
  await page.waitForFunction(() => document.querySelectorAll('g.node').length === 2);
  await scrubTo(page, 1000);
  const canceled = page.locator('[data-testid=history] li', { hasText: 'SELECT c FROM t' });
  await canceled.waitFor();
  assert.match(await canceled.textContent(), /statement canceled: it did more than 400,000 steps of work/);
  // The next statement runs as usual: the database and the page are fine.
  const next = page.locator('[data-testid=history] li', { hasText: 'SET c = 5' });
  await next.waitFor();
  assert.doesNotMatch(await next.textContent(), /error|canceled/);
  assert.equal(await page.locator('[data-testid=error-banner]').count(), 0);
  await shot(page, 'runaway-statement');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a scenario file with errors is refused beside the Open button with its JSON path; the run on screen stays', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=leaderless-read-repair');
  await scrubTo(page, 400);
  const before = { lesson: await selectedLesson(page), nodes: await page.locator('g.node').count() };
  const choose = (name, text) =>
    page.setInputFiles('[data-testid=open-file-input]', { name, mimeType: 'application/json', buffer: Buffer.from(text) });

  const good = JSON.parse(lesson('multi-leader-conflict'));
  const wrongRole = structuredClone(good);
  wrongRole.nodes[0].role = 'boss';
  const cases = [
    ['cut.json', lesson('multi-leader-conflict').slice(0, 300), /Could not open cut\.json: .*(EOF|end of|line)/i],
    ['role.json', JSON.stringify(wrongRole), /Could not open role\.json: nodes\[0\]\.role/],
    ['array.json', '[1, 2, 3]', /Could not open array\.json/],
    ['notes.txt', 'just some notes', /Could not open notes\.txt/],
  ];
  for (const [name, text, why] of cases) {
    await choose(name, text);
    await page.waitForSelector('[data-testid=file-error]');
    assert.match(await page.textContent('[data-testid=file-error]'), why, name);
    assert.match(await page.textContent('[data-testid=file-error]'), /The run on screen is unchanged/);
    assert.equal(await selectedLesson(page), before.lesson, `${name}: the lesson stays`);
    assert.equal(await page.locator('g.node').count(), before.nodes, `${name}: the cluster stays`);
    const clock = await page.textContent('[data-testid=clock]');
    assert.match(clock, /\b400\.000 ms/, `${name}: the moment stays (${clock})`);
  }
  await shot(page, 'bad-scenario-file');

  // The same file, fixed, opens as a run of its own, from its first moment.
  await choose('role.json', JSON.stringify(good));
  await page.waitForSelector('[data-testid=file-error]', { state: 'detached' });
  assert.equal(await page.locator('g.node').count(), good.nodes.length, 'the opened scenario is on screen');
  assert.equal(await selectedLesson(page), 'multi-leader-conflict', 'an unchanged lesson file is recognised as the lesson');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a number out of range in a form is refused beside the field, and the setting keeps its value', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=leaderless-read-repair');
  await page.click('[data-testid=tab-network]');
  const field = page.locator('[data-testid=net-max]');
  const was = await field.inputValue();
  for (const [typed, why] of [['-5', /-5 is out of range: enter a number from 0 to 60000/], ['99999999', /out of range/], ['', /Not a number/]]) {
    await field.fill(typed);
    await field.dispatchEvent('change');
    await page.waitForSelector('[data-testid=net-max-error]');
    assert.match(await page.textContent('[data-testid=net-max-error]'), why, typed);
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await field.blur();
    assert.equal(await field.inputValue(), typed, 'what was typed stays on screen, to be corrected');
  }
  await shot(page, 'bad-number');
  // Nothing reached the run: the link holds no network command.
  await page.waitForTimeout(600);
  assert.ok(!/^#run=/.test(await page.evaluate(() => location.hash)) ||
    !JSON.parse(Buffer.from((await page.evaluate(() => location.hash)).slice(5), 'base64url').toString()).commands?.some((c) => c.network),
  'no network change was made');
  await field.fill(was);
  await field.dispatchEvent('change');
  await page.waitForSelector('[data-testid=net-max-error]', { state: 'detached' });

  // The quorum fields: w above n is refused the same way, and the run keeps w.
  await page.click('[data-testid=tab-nodes]');
  const w = page.locator('[data-testid=quorum-w]');
  const wWas = await w.inputValue();
  await w.fill('9');
  await w.dispatchEvent('change');
  await page.waitForSelector('[data-testid=quorum-w-error]');
  assert.match(await page.textContent('[data-testid=quorum-w-error]'), /9 is out of range: enter a number from 1 to 3/);
  assert.equal(await page.inputValue('[data-testid=quorum-w-slider]'), wWas, 'the slider still shows the run\'s w');
  await shot(page, 'bad-quorum-number');
  // A value in its field's range that breaks the quorum as a whole (n below w) is refused by the quorum itself.
  await page.fill('[data-testid=quorum-w]', wWas);
  await page.dispatchEvent('[data-testid=quorum-w]', 'change');
  await page.waitForSelector('[data-testid=quorum-w-error]', { state: 'detached' });
  await page.fill('[data-testid=quorum-n]', '1');
  await page.dispatchEvent('[data-testid=quorum-n]', 'change');
  await page.waitForSelector('[data-testid=quorum-error]');
  assert.match(await page.textContent('[data-testid=quorum-error]'), /w = 2 is more than n = 1/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the staleness curve\'s form refuses a number out of range or a fraction beside the field, and keeps its settings', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=leaderless-read-repair');
  await page.click('[data-testid=tab-metrics]');
  await page.waitForSelector('[data-testid=staleness]');
  const badge = await page.textContent('[data-testid=pbs-strict]');
  const n = page.locator('[data-testid=pbs-n]');
  const nWas = await n.inputValue();
  await n.fill('40');
  await n.dispatchEvent('change');
  await page.waitForSelector('[data-testid=pbs-n-error]');
  assert.match(await page.textContent('[data-testid=pbs-n-error]'), /40 is out of range: enter a number from 1 to 16/);
  assert.equal(await n.inputValue(), '40', 'what was typed stays on screen, to be corrected');
  // w and r go up to n: a w above it, or a fraction, is refused the same way.
  const w = page.locator('[data-testid=pbs-w]');
  for (const [typed, why] of [['4', /4 is out of range: enter a number from 1 to 3/],
    ['1.5', /1\.5 is not a whole number: enter a whole number from 1 to 3/]]) {
    await w.fill(typed);
    await w.dispatchEvent('change');
    await page.waitForSelector('[data-testid=pbs-w-error]');
    assert.match(await page.textContent('[data-testid=pbs-w-error]'), why, typed);
  }
  await shot(page, 'bad-staleness-number');
  assert.equal(await page.textContent('[data-testid=pbs-strict]'), badge, 'the form kept its n, w and r');
  await n.fill(nWas);
  await n.dispatchEvent('change');
  await page.waitForSelector('[data-testid=pbs-n-error]', { state: 'detached' });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a refused number goes when the run changes underneath it: another lesson shows its own value, no message', async () => {
  const { page, errors } = await open(context, server.base + '#lesson=leaderless-read-repair');
  await page.click('[data-testid=tab-network]');
  const field = page.locator('[data-testid=net-max]');
  assert.equal(await field.inputValue(), '15');
  await field.fill('-5');
  await field.dispatchEvent('change');
  await page.waitForSelector('[data-testid=net-max-error]');
  await page.selectOption('[data-testid=lesson-select]', 'basics-async');
  await page.waitForSelector('[data-testid=net-max-error]', { state: 'detached' });
  assert.equal(await field.inputValue(), '40', 'the new lesson\'s maximum latency, not the refused entry');
  assert.equal(await field.getAttribute('aria-invalid'), null);
  assert.deepEqual(errors, []);
});
