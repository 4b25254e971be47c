#!/bin/sh
# The part run_fuzz.sh (onnx) and run_fuzz_text.sh (text) share: builds the
# libFuzzer target fuzz_NAME (build_fuzz.sh) in BUILD_DIR/fuzz and runs it
# for SECONDS on the scratch corpus BUILD_DIR/fuzz/SCRATCH and
# tests/fuzz/CORPUS, mutations steered by tests/fuzz/DICT:
#   fuzz_libfuzzer.sh NAME SCRATCH CORPUS DICT MAX_LEN TIMEOUT BUILD_DIR SECONDS [libFuzzer flags]
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NAME=$1 SCRATCH=$2 CORPUS=$3 DICT=$4 MAX_LEN=$5 TIMEOUT=$6
B=$(cd "$7" && pwd)
SECS=$8
shift 8
OUT=$B/fuzz
mkdir -p "$OUT/$SCRATCH"
sh "$SRC/tests/fuzz/build_fuzz.sh" "$B" "$NAME"
cd "$OUT"
ASAN_OPTIONS=detect_leaks=1 "./fuzz_$NAME" -max_total_time="$SECS" -max_len="$MAX_LEN" -timeout="$TIMEOUT" \
  -rss_limit_mb=2048 -dict="$SRC/tests/fuzz/$DICT" "$@" "$SCRATCH" "$SRC/tests/fuzz/$CORPUS"
