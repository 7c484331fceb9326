// The link check (scripts/check-links.mjs): every relative link in the Markdown files and every
// docs/ or README pointer in the code resolves, anchors included.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script, no types
import { brokenLinks, slug } from '../scripts/check-links.mjs';

describe('link check', () => {
  it('finds no broken link, anchor or README pointer', () => {
    expect(brokenLinks()).toEqual([]);
  });

  it("makes GitHub's heading slugs", () => {
    expect(slug('Monte-Carlo error: `standardError`')).toBe('monte-carlo-error-standarderror');
    expect(slug('Choosing k, epsilon, nSample')).toBe('choosing-k-epsilon-nsample');
  });
});
