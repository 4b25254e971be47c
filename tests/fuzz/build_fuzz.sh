#!/bin/sh
# Builds a libFuzzer target over the compiler's sources with clang
# (ASan+UBSan): tests/fuzz/build_fuzz.sh BUILD_DIR NAME compiles
# tests/fuzz/fuzz_NAME.c into BUILD_DIR/fuzz/fuzz_NAME. BUILD_DIR is a
# configured smelt build (for the protoc-c generated onnx.pb-c.c).
# fuzz_libfuzzer.sh (for run_fuzz.sh, onnx, and run_fuzz_text.sh, text) calls it.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:?usage: build_fuzz.sh BUILD_DIR NAME}" && pwd)
NAME=${2:?usage: build_fuzz.sh BUILD_DIR NAME}
mkdir -p "$B/fuzz"
[ -f "$B/gen/onnx.pb-c.c" ] || cmake --build "$B" --target smelt_onnx_pb
CC=${CC:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=c11"
$CC $FLAGS -I"$SRC" -I"$SRC/include" -I"$SRC/runtime" -I"$B/gen" \
  -DSMELT_SOURCE_DIR="\"$SRC\"" -DSMELT_RT_INCLUDE="\"$SRC/runtime\"" -DSMELT_RT_LIB="\"\"" \
  -I/usr/lib/llvm-14/include -fopenmp \
  "$SRC/tests/fuzz/fuzz_$NAME.c" "$SRC"/frontend/*.c "$SRC"/ir/*.c "$SRC"/ir/ops/*.c \
  "$SRC"/passes/*.c "$SRC"/codegen/*.c "$SRC"/codegen/kernels/*.c "$SRC"/runtime/*.c "$B/gen/onnx.pb-c.c" \
  -o "$B/fuzz/fuzz_$NAME" -L/usr/lib/llvm-14/lib -lclang -lprotobuf-c -lcjson -lz -lm -ldl
