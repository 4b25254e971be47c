#!/bin/sh
# Builds the ONNX importer's libFuzzer target with clang (ASan+UBSan) and runs
# it: tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS] [extra libFuzzer flags]
# BUILD_DIR is a configured smelt build (for the protoc-c generated onnx.pb-c.c).
# tests/fuzz/onnx.dict (op types and attribute names) steers mutations into
# the lowerings.
# New interesting inputs go to a scratch corpus; merge the ones worth keeping
# into tests/fuzz/onnx_corpus with -merge=1 (see docs/onnx.md).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS]}" && pwd)
SECS=${2:-60}
shift 2 2>/dev/null || shift $#
OUT=$B/fuzz
mkdir -p "$OUT/corpus"
sh "$SRC/tests/fuzz/build_fuzz.sh" "$B" onnx
cd "$OUT"
ASAN_OPTIONS=detect_leaks=1 ./fuzz_onnx -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -dict="$SRC/tests/fuzz/onnx.dict" "$@" corpus "$SRC/tests/fuzz/onnx_corpus"
