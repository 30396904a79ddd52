// Trunk post_build hook (Trunk.toml): the Content-Security-Policy in index.html allows inline scripts only by hash.
// Replace the INLINE-SCRIPT-HASHES placeholder in the staged index.html with the sha256 of every inline <script>
// (trunk's loader, whose text names the hashed file names, and index.html's own), exactly as the browser hashes
// them (the UTF-8 bytes between the tags). Fails the build unless the placeholder is there exactly once.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PLACEHOLDER = 'INLINE-SCRIPT-HASHES';
const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('scripts/csp.mjs runs as a trunk hook (TRUNK_STAGING_DIR is not set)');
const file = path.join(dir, 'index.html');
const html = readFileSync(file, 'utf8');
if (html.split(PLACEHOLDER).length !== 2) throw new Error(`${file}: expected ${PLACEHOLDER} once, in the policy`);
// HTML comments cannot hold a <script> the browser would run; skip them so a commented-out tag adds no hash.
const live = html.replace(/<!--[\s\S]*?-->/g, '');
const hashes = [];
for (const m of live.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
  if (/\bsrc\s*=/i.test(m[1])) continue;
  hashes.push(`'sha256-${createHash('sha256').update(m[2], 'utf8').digest('base64')}'`);
}
if (hashes.length === 0) throw new Error(`${file}: no inline script found`);
writeFileSync(file, html.replace(PLACEHOLDER, [...new Set(hashes)].join(' ')));
console.log(`csp: ${hashes.length} inline script hashes`);
