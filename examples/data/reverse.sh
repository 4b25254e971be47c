#!/bin/sh
# The copy/reverse task of examples/seq2seq.smelt: source sequences of 8
# tokens from 1..10 and their reversal as the target, as two CSV files per
# set (one sequence per row). Tokens come from a Park-Miller generator, so
# every awk gives the same files; the validation set uses another seed.
#   usage: examples/data/reverse.sh [DIR [N [NVAL]]]
#   (default: ., N=8192, NVAL=1024) -> DIR/{train,val}_{src,tgt}.csv
set -eu
dir=${1:-.}
n=${2:-8192}
nval=${3:-1024}
gen() { # SEED ROWS SRC TGT
  awk -v seed="$1" -v n="$2" -v src="$3.tmp.$$" -v tgt="$4.tmp.$$" 'BEGIN {
    s = seed
    for (r = 0; r < n; r++) {
      for (i = 0; i < 8; i++) {
        s = (s * 16807) % 2147483647
        t[i] = 1 + int(s / 2147483647 * 10)
      }
      a = t[0]; b = t[7]
      for (i = 1; i < 8; i++) { a = a "," t[i]; b = b "," t[7 - i] }
      print a > src
      print b > tgt
    }
  }'
  mv "$3.tmp.$$" "$3"
  mv "$4.tmp.$$" "$4"
}
gen 1 "$n" "$dir/train_src.csv" "$dir/train_tgt.csv"
gen 7919 "$nval" "$dir/val_src.csv" "$dir/val_tgt.csv"
echo "reverse.sh: wrote $dir/{train,val}_{src,tgt}.csv ($n and $nval sequences of 8 tokens)" >&2
