// Backend 'cpu' forced onto its baseline x86-64 (scalar) path, against backend 'js'.
// The variable is read by the addon at its first kernel call; each test file runs in its own
// process (vitest pool 'forks'), so this choice does not leak into other files.
process.env.NOISED_TOPK_CPU_ISA = 'baseline';

import { describe } from 'vitest';
import { identitySuite } from './cpu-identity-cases.js';

describe('cpu identity (baseline path)', () => {
  identitySuite();
});
