#!/usr/bin/env bash
# npm run fuzz:native [-- seconds]: builds native/fuzz/fuzz_core.cpp with clang's libFuzzer,
# ASan and UBSan into build-fuzz/ and runs it for `seconds` (default 60; CI runs 60). The
# corpus persists in build-fuzz/corpus between runs. Needs clang and its runtime:
#   apt-get install clang libclang-rt-14-dev   (or whichever version apt offers)
# A longer run:  npm run fuzz:native -- 3600
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cxx="${FUZZ_CXX:-$(command -v clang++ || true)}"
[ -n "$cxx" ] || { echo "fuzz-native: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p build-fuzz/corpus
# The kernels' sources and float flags, as the addon builds them (native/sources.json).
read -r -a kernels <<< "$(node -p "const s = require('./native/sources.json'); [...s.core, ...s.cpu].join(' ')")"
read -r -a stream_flags <<< "$(node -p "require('./native/sources.json').streamFlags.join(' ')")"
"$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer "${stream_flags[@]}" \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  native/fuzz/fuzz_core.cpp "${kernels[@]}" -pthread -o build-fuzz/fuzz_core
echo "fuzz-native: running build-fuzz/fuzz_core for ${seconds}s"
set +e
ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  build-fuzz/fuzz_core build-fuzz/corpus -max_total_time="$seconds" -max_len=4096 -timeout=20 \
  -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ -print_final_stats=1 -seed="${FUZZ_SEED:-20261126}" > build-fuzz/last-run.log 2>&1
status=$?
set -e
if [ "$status" -ne 0 ]; then
  tail -n 60 build-fuzz/last-run.log
  echo "fuzz-native: FAILED (exit $status); the input is in build-fuzz/crash-* (or timeout-*); replay: build-fuzz/fuzz_core FILE" >&2
  exit "$status"
fi
grep -E '^Done [0-9]+ runs|^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' build-fuzz/last-run.log
echo "fuzz-native: no crash, no sanitizer report, every answer equal to the reference"
