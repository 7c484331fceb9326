// Backend 'cpu' capped at its AVX2 path (where the CPU has AVX-512 the default path is wider),
// against backend 'js'. On a CPU without AVX2 this runs the baseline path. The variable is read
// by the addon at its first kernel call; each test file runs in its own process.
process.env.NOISED_TOPK_CPU_ISA = 'avx2';

import { describe } from 'vitest';
import { identitySuite } from './cpu-identity-cases.js';

describe('cpu identity (AVX2 path)', () => {
  identitySuite();
});
