#!/usr/bin/env node
// Where do the playground's wasm bytes go? Tracks the bundle-size budget (see scripts/bench: wasm + JS gzip).
//
//   trunk build --release            # writes dist/ and the named rustc output under target/
//   node scripts/size.mjs [NAMED_WASM] [--dist DIR] [--top N]
//
// NAMED_WASM (default target/wasm32-unknown-unknown/web/playground.wasm) is rustc's output before trunk runs
// wasm-bindgen/wasm-opt: it keeps the "name" section (mangled or demangled names both work), so each function body
// can be attributed to a module or crate. Its code is somewhat bigger than what ships (wasm-opt shrinks it).
// Prints code/data bytes, code bytes per area (replsim module or dependency crate), B-tree instantiations, a coarse
// four-bucket summary and the N largest functions. With a shipped bundle (--dist DIR, default dist/ if present) it
// also prints gzip sizes (zlib level 9) of the shipped wasm and JS, and of that wasm's code and data sections alone.
// (GNU `gzip -9`, used by scripts/bench, compresses the wasm ~0.4% smaller than zlib does.)
// Node 18+, no dependencies. Exit 0 on success, 2 with a one-line message on bad input.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
class BadInput extends Error {}
const fail = (msg) => { throw new BadInput(msg); };

// ---- wasm parsing (https://webassembly.github.io/spec/core/binary/) ----
function parseWasm(buf, file) {
  if (buf.length < 8 || buf.readUInt32BE(0) !== 0x0061736d) fail(`${file}: not a wasm file (bad magic)`);
  if (buf.readUInt32LE(4) !== 1) fail(`${file}: unsupported wasm version ${buf.readUInt32LE(4)}`);
  let pos = 8;
  const truncated = () => fail(`${file}: truncated or malformed wasm (` +
    (pos > buf.length ? `an entry ends at byte ${pos}, the file at ${buf.length})` : `at byte ${pos})`));
  const byte = () => (pos < buf.length ? buf[pos++] : truncated());
  const leb = () => { // unsigned LEB128 (up to 35 bits, enough for u32)
    let r = 0, mul = 1;
    for (let i = 0; i < 5; i++) { const b = byte(); r += (b & 0x7f) * mul; mul *= 128; if (b < 0x80) return r; }
    return truncated();
  };
  const skip = (n) => { pos += n; if (pos > buf.length) truncated(); };
  const str = () => { const n = leb(), s = pos; skip(n); return buf.toString('utf8', s, pos); };
  const valType = () => { const t = byte(); if (t === 0x63 || t === 0x64) leb(); }; // (ref null? ht): heap type
  const limits = () => { const flags = leb(); leb(); if (flags & 1) leb(); };

  const sections = []; // { id, start, end } of each section's payload
  while (pos < buf.length) { const id = byte(), size = leb(), start = pos; skip(size); sections.push({ id, start, end: pos }); }
  let funcImports = 0, bodies = [], names = new Map(), hasNames = false;
  for (const s of sections) {
    pos = s.start;
    if (s.id === 2) { // imports: only function imports shift the function index space
      for (let n = leb(); n > 0; n--) {
        str(); str();
        const kind = byte();
        if (kind === 0) { leb(); funcImports++; } else if (kind === 1) { valType(); limits(); }
        else if (kind === 2) limits(); else if (kind === 3) { valType(); byte(); }
        else if (kind === 4) { byte(); leb(); } else fail(`${file}: unknown import kind ${kind}`);
      }
    } else if (s.id === 10) { // code: each body's size includes its own LEB128 size prefix
      for (let n = leb(); n > 0; n--) { const at = pos, len = leb(); skip(len); bodies.push(pos - at); }
    } else if (s.id === 0 && str() === 'name') {
      hasNames = true;
      while (pos < s.end) {
        const sub = byte(), len = leb(), end = pos + len;
        if (sub === 1) for (let n = leb(); n > 0; n--) { const idx = leb(); names.set(idx, str()); }
        pos = end;
      }
    }
    if (pos > s.end) truncated();
  }
  const sec = (id) => sections.find((s) => s.id === id) ?? { start: 0, end: 0 };
  return { sec, funcImports, bodies, names, hasNames };
}

// ---- names: rustc's output is mangled (wasm-bindgen demangles, so pre-processed wasm may not be) ----
const ESC = { SP: '@', BP: '*', RF: '&', LT: '<', GT: '>', LP: '(', RP: ')', C: ',' };
function demangle(sym) {
  const legacy = /^_?_ZN(.*)E(\.[\w.]*)?$/.exec(sym); // `_ZN7replsim3sim10Simulation4step17h1a6b...E`
  if (legacy) {
    let segs = [], rest = legacy[1];
    for (let m; (m = /^\d+/.exec(rest)); rest = rest.slice(m[0].length + +m[0])) segs.push(rest.substr(m[0].length, +m[0]));
    if (rest) return sym;
    return segs.map((g) => g.replace(/^_\$/, '$').replace(/\.\./g, '::')
      .replace(/\$(SP|BP|RF|LT|GT|LP|RP|C|u[0-9a-f]+)\$/g, (_, e) => ESC[e] ?? String.fromCodePoint(parseInt(e.slice(1), 16))))
      .join('::');
  }
  if (!sym.startsWith('_R')) return sym;
  // v0 (precompiled std/core/alloc): approximated by its path identifiers, e.g. `core::fmt::float::float_to_decimal_…`;
  // skips grammar tags, `s…_` disambiguators and `B…_` back-references. Right crate, rough rest.
  const ids = [], v0 = sym.replace(/\..*$/, '');
  for (let i = 2, m; i < v0.length; ) {
    m = /^(?:(\d+)_?|[sB][0-9A-Za-z]*_|N.|.)/.exec(v0.slice(i));
    i += m[0].length;
    if (m[1]) { if (+m[1]) ids.push(v0.slice(i, i + +m[1])); i += +m[1]; }
  }
  return ids.join('::') || sym;
}

// ---- attributing a function name to an area ----
// Split the path starting at s[i] into top-level `::` segments, stopping at the end of the path (space, `>`, ...).
function segments(s, i) {
  const segs = [];
  let depth = 0, cur = '';
  for (; i < s.length; i++) {
    const c = s[i];
    if (depth === 0 && s.startsWith('::', i)) { segs.push(cur); cur = ''; i++; continue; }
    if (c === '-' && s[i + 1] === '>') { cur += '->'; i++; continue; }
    if (c === '<') depth++;
    else if (c === '>') { if (depth === 0) break; depth--; }
    else if (depth === 0 && /[\s,;()]/.test(c)) break;
    cur += c;
  }
  segs.push(cur);
  while (segs.length > 1 && /^(h[0-9a-f]{16}|\{\{.*\}\})$/.test(segs[segs.length - 1])) segs.pop();
  return segs;
}
const isModule = (segs, k) => k < segs.length - 1 && /^[a-z_][a-z0-9_]*$/.test(segs[k]);
function replsimArea(segs) { // segs[0] === 'replsim'
  const [, top, sub] = segs;
  if (top === 'web' && (sub === 'components' || sub === 'state') && isModule(segs, 2))
    return `replsim::web::${sub}` + (isModule(segs, 3) ? `::${segs[3]}` : '');
  if ((top === 'sql' || top === 'node') && isModule(segs, 1))
    return `replsim::${top}` + (isModule(segs, 2) ? `::${sub}` : '');
  return isModule(segs, 1) ? `replsim::${top}` : 'replsim';
}
const PATH = String.raw`([A-Za-z_]\w*)(?:\[[0-9a-f]+\])?::`; // `core[c5930c85a12de822]::` -> core
const FIRST_PATH = new RegExp(String.raw`(?<![\w\]])` + PATH), LEADING_PATH = new RegExp('^' + PATH);
function areaOf(name) {
  if (name === undefined) return '(unnamed)';
  if (name.startsWith('<')) {
    const m = /(?<![\w\]])replsim::/.exec(name);
    if (m) return replsimArea(segments(name, m.index));
  } else if (/^replsim::/.test(name)) return replsimArea(segments(name, 0));
  const m = (name.startsWith('<') ? FIRST_PATH : LEADING_PATH).exec(name);
  return m ? m[1] : (PATHLESS.find(([re]) => re.test(name)) ?? [, '(other)'])[1];
}
const PATHLESS = [ // names with no crate path: primitive methods (`<char>::is_whitespace`), glue, intrinsics
  [/^<\[?(bool|char|str|[iuf](8|16|32|64|128|size))\]?>::/, 'core'],
  [/^__(wbindgen|wbg|externref)_|externref shim$/, 'wasm_bindgen'],
  [/^(__\w+ti3|mem(cmp|cpy|move|set)|f(min|max|mod)f?|(round|trunc|floor|ceil)f?)$/, 'compiler_builtins'],
  [/^main$/, 'std'],
];
const bucketOf = (area) => area.startsWith('replsim::web') ? 'web UI' : area.startsWith('replsim::sql') ? 'SQL engine'
  : area === 'replsim' || area.startsWith('replsim::') ? 'core simulation' : 'std + dependencies';

// ---- output helpers ----
let codeTotal = 1;
const pct = (n) => `${((100 * n) / codeTotal).toFixed(1).padStart(5)}%`;
const row = (label, n) => console.log(`  ${label.padEnd(44)} ${String(n).padStart(9)}  ${pct(n)}`);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const gz = (b) => gzipSync(b, { level: 9 }).length;

function main(argv) {
  const usage = 'usage: node scripts/size.mjs [NAMED_WASM] [--dist DIR] [--top N]';
  let wasmPath, distDir, top = 25;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') { console.log(usage); return 0; }
    if (a === '--dist' || a === '--top') {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value (${usage})`);
      if (a === '--dist') distDir = v;
      else if (!/^\d+$/.test(v)) fail(`--top needs a non-negative integer, got "${v}"`);
      else top = Number(v);
    } else if (a.startsWith('-') || wasmPath !== undefined) fail(`unexpected argument "${a}" (${usage})`);
    else wasmPath = a;
  }
  if (wasmPath === undefined) {
    wasmPath = join(ROOT, 'target/wasm32-unknown-unknown/web/playground.wasm');
    if (!existsSync(wasmPath)) fail(`${wasmPath} not found: run \`trunk build --release\` first`);
  }
  if (!existsSync(wasmPath) || !statSync(wasmPath).isFile()) fail(`${wasmPath}: no such file (or not a file)`);

  const buf = readFileSync(wasmPath);
  const w = parseWasm(buf, wasmPath);
  if (!w.hasNames) fail(`${wasmPath}: no "name" section, cannot attribute code (pass rustc's output, not dist/*.wasm)`);
  const all = w.bodies.map((size, i) => ({ size, name: w.names.get(w.funcImports + i) }));
  for (const f of all) if (f.name !== undefined) f.name = demangle(f.name);
  // wasm-bindgen runs these type descriptions at build time and deletes them: never shipped, so not counted.
  const DESCRIBE = /^__wbindgen_describe|wasm_bindgen::describe|WasmDescribe|::describe_invoke|::breaks_if_inlined/;
  const fns = all.filter((f) => !DESCRIBE.test(f.name ?? ''));
  codeTotal = fns.reduce((a, f) => a + f.size, 0) || 1;
  const secSize = (id) => w.sec(id).end - w.sec(id).start;

  console.log(`${wasmPath}: ${buf.length} bytes, ${fns.length} functions (+${w.funcImports} imported)`);
  const skipped = all.length - fns.length;
  console.log(`  code ${String(codeTotal).padStart(9)}   (function bodies; code section ${secSize(10)}` +
    (skipped ? `; ${skipped} describe functions left out: wasm-bindgen removes them)` : ')'));
  console.log(`  data ${String(secSize(11)).padStart(9)}   (data section)`);
  console.log(`  rest ${String(buf.length - secSize(10) - secSize(11)).padStart(9)}   (other sections: names, types, imports, ...)`);

  const byArea = new Map(), byBucket = new Map();
  for (const f of fns) {
    const a = areaOf(f.name);
    byArea.set(a, (byArea.get(a) || 0) + f.size);
    byBucket.set(bucketOf(a), (byBucket.get(bucketOf(a)) || 0) + f.size);
  }
  console.log(`\ncode by area${' '.repeat(35)}    bytes  of code`);
  for (const [a, n] of [...byArea].sort((x, y) => y[1] - x[1])) row(a, n);
  const btree = fns.filter((f) => f.name?.includes('collections::btree'));
  console.log('');
  row(`B-tree instantiations (${btree.length} fns)`, btree.reduce((s, f) => s + f.size, 0));

  console.log('\nsummary');
  for (const b of ['core simulation', 'SQL engine', 'web UI', 'std + dependencies']) row(b, byBucket.get(b) || 0);

  console.log(`\ntop ${top} functions`);
  for (const f of [...fns].sort((x, y) => y.size - x.size).slice(0, top)) {
    let n = (f.name ?? '(unnamed)').replace(/::h[0-9a-f]{16}$/, '');
    if (n.length > 110) n = n.slice(0, 109) + '…';
    console.log(`  ${String(f.size).padStart(7)} ${pct(f.size)}  ${n}`);
  }

  // ---- shipped bundle ----
  const explicit = distDir !== undefined;
  distDir ??= join(ROOT, 'dist');
  const noBundle = (why) => explicit ? fail(`--dist ${distDir}: ${why}`) : console.log(`\n(${distDir}: ${why}; no bundle sizes)`);
  if (!existsSync(distDir) || !statSync(distDir).isDirectory()) return noBundle('no such directory') ?? 0;
  const files = readdirSync(distDir).sort();
  const pick = (ext) => files.filter((f) => f.endsWith(ext)).map((f) => join(distDir, f));
  const wasms = pick('.wasm'), jss = pick('.js');
  if (!wasms.length || !jss.length) return noBundle('needs *.wasm and *.js') ?? 0;
  console.log(`\n${`shipped bundle (${distDir}), zlib gzip -9`.padEnd(42)} ${'raw'.padStart(9)} ${'gzip'.padStart(9)}`);
  const line = (label, raw, g) => console.log(`  ${label.padEnd(40)} ${String(raw).padStart(9)} ${String(g).padStart(9)}`);
  let sum = 0;
  const shipped = [...wasms, ...jss].map((f) => ({ f, b: readFileSync(f) }));
  for (const x of shipped) x.w = x.f.endsWith('.wasm') && parseWasm(x.b, x.f); // fail before printing anything
  for (const { f, b, w: s } of shipped) {
    const g = gz(b);
    sum += g;
    line(basename(f), b.length, g);
    for (const [id, label] of s ? [[10, 'code section'], [11, 'data section']] : []) {
      const part = b.subarray(s.sec(id).start, s.sec(id).end);
      line(`  ${label}`, part.length, gz(part));
    }
  }
  console.log(`  ${'total wasm + js gzip'.padEnd(40)} ${''.padStart(9)} ${String(sum).padStart(9)}  = ${kb(sum)}`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  console.error(`size.mjs: ${e instanceof BadInput ? e.message : `unexpected error: ${e?.message ?? e}`}`);
  process.exitCode = 2;
}
