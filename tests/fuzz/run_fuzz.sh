#!/bin/sh
# Builds the ONNX importer's libFuzzer target with clang (ASan+UBSan) and runs
# it: tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS] [extra libFuzzer flags]
# BUILD_DIR is a configured smelt build (for the protoc-c generated onnx.pb-c.c).
# tests/fuzz/onnx.dict (op types and attribute names) steers mutations into
# the lowerings.
# New interesting inputs go to a scratch corpus; merge the ones worth keeping
# into tests/fuzz/onnx_corpus with -merge=1 (see docs/onnx.md).
set -eu
B=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS]}
SECS=${2:-60}
shift 2 2>/dev/null || shift $#
exec sh "$(dirname "$0")/fuzz_libfuzzer.sh" onnx corpus onnx_corpus onnx.dict 65536 10 "$B" "$SECS" "$@"
