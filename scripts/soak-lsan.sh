#!/usr/bin/env bash
# npm run soak:lsan: scripts/soak.mjs under AddressSanitizer + LeakSanitizer, against the ASan
# build of the addon (build-asan/, made by scripts/asan.sh). node itself does not free
# everything at exit, so LeakSanitizer's report is filtered: a leak counts when its allocation
# stack passes through the addon (noised_topk.node) or the kernels (ntk::). Arguments go to
# soak.mjs (default: 100000 sync and 10000 async calls; CI: --sync 20000 --async 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
# NOISED_TOPK_ADDON (an ASan-built .node) skips the build: how the filter below was checked
# against a deliberately leaking build.
addon="${NOISED_TOPK_ADDON:-$(NOISED_TOPK_ASAN_BUILD_ONLY=1 bash scripts/asan.sh | tail -n 1)}"
logdir="build-asan/lsan"
rm -rf "$logdir" && mkdir -p "$logdir"
set +e
NOISED_TOPK_ADDON="$addon" LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so)" \
  ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$PWD/$logdir/report:fast_unwind_on_malloc=0:malloc_context_size=30" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  node scripts/soak.mjs --max-native-growth-mb 100000 --rounds 1 "$@"  # ASan's quarantine holds freed memory: RSS is measured by npm run soak
status=$?
set -e
shopt -s nullglob
reports=("$logdir"/report.*)
if grep -lE 'ERROR: AddressSanitizer|runtime error' "${reports[@]}" /dev/null >/dev/null 2>&1; then
  cat "${reports[@]}"
  echo "soak-lsan: a sanitizer error was reported" >&2
  exit 1
fi
# Split LeakSanitizer's report into leak blocks; keep those whose stack reaches the addon.
ours=$(cat "${reports[@]}" /dev/null | awk '/^(Direct|Indirect) leak/ { if (b != "") print b; b = $0; next } b != "" { b = b " | " $0 } END { if (b != "") print b }' | grep -cE 'noised_topk|ntk::' || true)
total=$(cat "${reports[@]}" /dev/null | grep -cE '^(Direct|Indirect) leak' || true)
echo "soak-lsan: LeakSanitizer leak records: $total in the process, $ours reaching the addon"
if [ "$ours" != 0 ]; then
  cat "${reports[@]}" | grep -B2 -A30 -E 'noised_topk|ntk::' | head -n 200
  exit 1
fi
[ "$status" = 0 ] || [ "$status" = 23 ] || exit "$status"  # 23: LeakSanitizer found node's own leaks
echo "soak-lsan: no leak from the addon"
