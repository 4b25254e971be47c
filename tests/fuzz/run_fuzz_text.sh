#!/bin/sh
# Builds the text format's libFuzzer target (tests/fuzz/fuzz_text.c) with
# clang (ASan+UBSan) and runs it:
#   tests/fuzz/run_fuzz_text.sh BUILD_DIR [SECONDS] [extra libFuzzer flags]
# BUILD_DIR is a configured smelt build (for the protoc-c generated
# onnx.pb-c.c the frontend links). New interesting inputs go to a scratch
# corpus (BUILD_DIR/fuzz/text_scratch); merge the ones worth keeping into
# tests/fuzz/text_corpus with -merge=1 (see docs/fuzzing.md).
# Timeouts are 30 s: a whole training model (examples/
# seq2seq.smelt) takes ~7 s of CPU under ASan and coverage.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:?usage: run_fuzz_text.sh BUILD_DIR [SECONDS]}" && pwd)
SECS=${2:-60}
shift 2 2>/dev/null || shift $#
OUT=$B/fuzz
mkdir -p "$OUT/text_scratch"
sh "$SRC/tests/fuzz/build_fuzz.sh" "$B" text
cd "$OUT"
ASAN_OPTIONS=detect_leaks=1 ./fuzz_text -max_total_time="$SECS" -max_len=8192 -timeout=30 -rss_limit_mb=2048 \
  -dict="$SRC/tests/fuzz/text.dict" "$@" text_scratch "$SRC/tests/fuzz/text_corpus"
