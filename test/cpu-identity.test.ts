// Backend 'cpu' (best SIMD path this CPU supports) against backend 'js', bit for bit.
import { describe } from 'vitest';
import { identitySuite } from './cpu-identity-cases.js';

describe('cpu identity (dispatched ISA)', () => {
  identitySuite();
});
