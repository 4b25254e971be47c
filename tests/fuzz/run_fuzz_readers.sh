#!/bin/sh
# Builds the runtime readers' libFuzzer target with clang (ASan+UBSan) and
# runs it: tests/fuzz/run_fuzz_readers.sh OUT_DIR [SECONDS] [extra libFuzzer flags]
# The runtime needs only runtime/*.c, cJSON, zlib, libm and OpenMP. New
# interesting inputs go to OUT_DIR/readers_corpus; merge the ones worth
# keeping into tests/fuzz/readers_corpus with
#   OUT_DIR/fuzz_readers -merge=1 tests/fuzz/readers_corpus OUT_DIR/readers_corpus
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "${1:?usage: run_fuzz_readers.sh OUT_DIR [SECONDS]}"
OUT=$(cd "$1" && pwd)
SECS=${2:-60}
shift 2 2>/dev/null || shift $#
mkdir -p "$OUT/readers_corpus"
CC=${CC:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=c11"
$CC $FLAGS -I"$SRC/runtime" -fopenmp "$SRC/tests/fuzz/fuzz_readers.c" "$SRC"/runtime/*.c \
  -o "$OUT/fuzz_readers" -lcjson -lz -lm
cd "$OUT"
ASAN_OPTIONS=detect_leaks=1 ./fuzz_readers -max_total_time="$SECS" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 "$@" readers_corpus "$SRC/tests/fuzz/readers_corpus"
