#!/bin/sh
# Generated 1024^3 GEMM vs OpenBLAS (if libopenblas-dev is installed), 1 and 2 threads.
# usage: bench/sgemm.sh [SMELT] [REPS]     (run from the repository root)
set -e
SMELT=${1:-build/smelt}
REPS=${2:-10}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$SMELT" compile bench/sgemm.smelt --emit lib -o "$T/sgemm"
BLAS=""
if [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ]; then
  BLAS="-DHAVE_OPENBLAS -lopenblas"
fi
cc -std=c11 -O2 -fopenmp bench/sgemm.c -I"$T" -Iruntime -o "$T/sgemm_bench" \
  -L"$T" -lsgemm -lcjson -lz -lm $BLAS
"$T/sgemm_bench" "$REPS"
