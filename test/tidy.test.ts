// npm run lint runs clang-tidy (scripts/tidy-native.sh) with the checks .clang-tidy states. The
// repository must be clean under them, and each check must be live: a planted instance of the
// bug it names is a finding (the control), so a config that silently matched nothing would fail.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'ntk-tidy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tidy(name: string, source: string) {
  const file = join(scratch, name);
  writeFileSync(file, source);
  const r = spawnSync(
    'clang-tidy',
    ['--quiet', `--config-file=${join(root, '.clang-tidy')}`, file, '--', '-std=c++17'],
    {
      encoding: 'utf8',
    },
  );
  expect(r.error, 'clang-tidy must be installed (.ci/run installs it)').toBeUndefined();
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('clang-tidy (npm run lint)', () => {
  it('the addon, the fuzz harness and the native checks are clean', () => {
    const r = spawnSync('bash', [join(root, 'scripts/tidy-native.sh')], { cwd: root, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toMatch(/tidy-native: \d+ files clean/);
    expect(r.status).toBe(0);
  });

  it('a clean file passes, so the findings below come from the planted bugs', () => {
    const r = tidy(
      'clean.cpp',
      '#include <cstdint>\n#include <cstring>\nuint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }\n',
    );
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it.each([
    [
      'cppcoreguidelines-pro-type-union-access',
      'union B { float f; unsigned u; };\nunsigned bits(float f) { B b; b.f = f; return b.u; }\n',
    ],
    [
      'bugprone-use-after-move',
      '#include <string>\n#include <utility>\nstd::size_t f(std::string s) { std::string t = std::move(s); return s.size() + t.size(); }\n',
    ],
    ['bugprone-integer-division', 'double share(int hits, int n) { return static_cast<double>(hits / n); }\n'],
    [
      'bugprone-misplaced-widening-cast',
      'long long offset(int row, int d) { return static_cast<long long>(row * d); }\n',
    ],
    ['bugprone-infinite-loop', 'int spin(int n) { int i = 0; while (i < n) { } return i; }\n'],
    ['modernize-use-nullptr', 'int* none() { return 0; }\n'],
  ])('%s is live: a planted instance is an error', (check, source) => {
    const r = tidy(`${check}.cpp`, source);
    expect(r.out).toContain(`[${check},-warnings-as-errors]`);
    expect(r.status).not.toBe(0);
  });
});
