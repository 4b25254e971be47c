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
B=${1:?usage: run_fuzz_text.sh BUILD_DIR [SECONDS]}
SECS=${2:-60}
shift 2 2>/dev/null || shift $#
exec sh "$(dirname "$0")/fuzz_libfuzzer.sh" text text_scratch text_corpus text.dict 8192 30 "$B" "$SECS" "$@"
