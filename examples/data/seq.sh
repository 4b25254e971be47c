#!/bin/sh
# The token task of examples/lstm_classifier.smelt, gru_classifier.smelt and
# transformer_encoder.smelt: N sequences of 12 token ids from a 64-token
# vocabulary, then the label (the first token mod 4), as CSV. Tokens come
# from a Park-Miller generator (seed 1), so every awk gives the same file.
#   usage: examples/data/seq.sh [OUT.csv [N]]   (default: seq.csv, N=4096)
set -eu
out=${1:-seq.csv}
n=${2:-4096}
tmp=$out.tmp.$$
awk -v n="$n" 'BEGIN {
  s = 1
  for (r = 0; r < n; r++) {
    line = ""
    for (i = 0; i < 12; i++) {
      s = (s * 16807) % 2147483647
      t = int(s / 2147483647 * 64)
      if (i == 0) first = t
      line = line t ","
    }
    print line (first % 4)
  }
}' > "$tmp"
mv "$tmp" "$out"
echo "seq.sh: wrote $out ($n sequences of 12 tokens + label)" >&2
