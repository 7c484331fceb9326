// The link check (scripts/check-links.mjs): every relative link in the Markdown files and every
// docs/ or README pointer in the code resolves, anchors included.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script, no types
import { brokenLinks, slug } from '../scripts/check-links.mjs';

describe('link check', () => {
  it('finds no broken link, anchor or README pointer', () => {
    expect(brokenLinks()).toEqual([]);
  });

  it('the control: a scratch tree with one of each kind of break reports each, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ntk-links-'));
    try {
      mkdirSync(join(dir, 'docs'));
      mkdirSync(join(dir, 'lib'));
      writeFileSync(join(dir, 'README.md'), '# x\n\n## Install\n\nSee [a](docs/a.md#usage).\n');
      writeFileSync(
        join(dir, 'docs', 'a.md'),
        '# A\n\n## Usage\n\n[gone](b.md), [bad anchor](a.md#nope), [fine](../README.md#install),\n' +
          'a pointer (see README, Install) and one broken across a line (README,\nNo Such Section).\n',
      );
      writeFileSync(join(dir, 'lib', 'x.ts'), '// docs/a.md#usage is fine, docs/c.md is not (README, Gone)\n');
      expect(brokenLinks(dir).sort()).toEqual(
        [
          'docs/a.md:5: b.md: no file docs/b.md',
          'docs/a.md:5: a.md#nope: no heading #nope in docs/a.md',
          'docs/a.md:6: README, No Such Section: no such README section',
          'lib/x.ts:1: docs/c.md: no file docs/c.md',
          'lib/x.ts:1: README, Gone: no such README section',
        ].sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("makes GitHub's heading slugs", () => {
    expect(slug('Monte-Carlo error: `standardError`')).toBe('monte-carlo-error-standarderror');
    expect(slug('Choosing k, epsilon, nSample')).toBe('choosing-k-epsilon-nsample');
  });
});
