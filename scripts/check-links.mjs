#!/usr/bin/env node
// The link check (issue 19): every relative link in the Markdown files, and every
// a docs page with an anchor or "README, Section" pointer in code comments and bench output, must resolve,
// anchors included (GitHub's heading slugs). Prints each broken one; exits 1 if any.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repository = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const skip = new Set(['node_modules', '.git', 'build', 'dist', 'prebuilds', 'third_party']);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (skip.has(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const anchorCache = new Map();
function anchorsOf(file) {
  if (!anchorCache.has(file)) {
    const seen = new Map();
    const set = new Set();
    let fence = false;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (/^\s*```/.test(line)) fence = !fence;
      const m = !fence && /^#{1,6}\s+(.*)$/.exec(line);
      if (!m) continue;
      const base = slug(m[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      set.add(n === 0 ? base : `${base}-${n}`);
    }
    anchorCache.set(file, set);
  }
  return anchorCache.get(file);
}

function headingsOf(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /^#{1,6}\s/.test(l))
    .map((l) => l.replace(/^#+\s+/, '').trim());
}

/** The problem with a target (file relative to `from`'s directory, optional #anchor), or null. */
function check(root, fromFile, target, base = dirname(fromFile)) {
  const [path, anchor] = target.split('#');
  const file = path === '' ? fromFile : resolve(base, decodeURIComponent(path));
  if (!existsSync(file)) return `no file ${relative(root, file)}`;
  if (anchor && file.endsWith('.md') && !anchorsOf(file).has(anchor.toLowerCase()))
    return `no heading #${anchor} in ${relative(root, file)}`;
  return null;
}

/** Every broken link and pointer under `root` (default: this repository), as 'file:line: what'. */
export function brokenLinks(root = repository) {
  const problems = [];
  const files = walk(root);
  const readmeHeadings = headingsOf(join(root, 'README.md'));
  for (const file of files) {
    const rel = relative(root, file);
    // The link check's own test holds broken links on purpose (its control).
    if (rel === 'test/links.test.ts') continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.md') && !rel.startsWith('bench/results/')) {
      let fence = false;
      text.split('\n').forEach((line, i) => {
        if (/^\s*```/.test(line)) fence = !fence;
        if (fence) return;
        for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          const t = m[1];
          if (/^[a-z]+:/i.test(t)) continue;
          const p = check(root, file, t);
          if (p) problems.push(`${rel}:${i + 1}: ${t}: ${p}`);
        }
      });
    }
    if (/\.(ts|mts|mjs|js|h|cpp|cu|cuh|sh|json)$/.test(file) && !rel.startsWith('test/fixtures/')) {
      text.split('\n').forEach((line, i) => {
        for (const m of line.matchAll(/\bdocs\/([\w-]+\.md)(#[\w-]+)?/g)) {
          const p = check(root, join(root, 'docs', 'x'), `${m[1]}${m[2] ?? ''}`, join(root, 'docs'));
          if (p) problems.push(`${rel}:${i + 1}: docs/${m[1]}${m[2] ?? ''}: ${p}`);
        }
      });
    }
    // "(README, <Section>)" and "(see README, <Section>)" pointers, in prose and code, across a line
    // break too, must name a README heading.
    if (
      /\.(md|ts|mts|mjs|js|h|cpp|cu|cuh|sh|json)$/.test(file) &&
      !rel.startsWith('test/fixtures/') &&
      rel !== 'CHANGELOG.md'
    ) {
      for (const m of text.matchAll(/\((?:see )?README,\s+([A-Z][\w -]*?)\)/g)) {
        const section = m[1].replace(/\s+/g, ' ');
        if (!readmeHeadings.some((h) => h.toLowerCase() === section.toLowerCase())) {
          const line = text.slice(0, m.index).split('\n').length;
          problems.push(`${rel}:${line}: README, ${section}: no such README section`);
        }
      }
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = brokenLinks();
  for (const p of problems) console.log(p);
  console.log(problems.length === 0 ? 'link check: every link resolves' : `link check: ${problems.length} broken`);
  process.exit(problems.length === 0 ? 0 : 1);
}
