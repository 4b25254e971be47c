#!/bin/sh
# Next-character windows from Debian's fortunes-min cookies for
# examples/char_lm.smelt: each CSV row holds T character ids, then the id
# of the character that follows (the label). Ids: 0 is a newline, 1..95
# are the printable ASCII characters 32..126 (id = code - 31); tabs become
# spaces, other bytes are dropped, and the "%" lines between fortunes
# become empty lines. Windows start every S characters; rows stay in text
# order, so --val-split 0.1 holds out the end of the file.
#   usage: examples/data/fortunes.sh [OUT.csv [T [S]]]  (default: fortunes.csv, T=24, S=3)
#   needs: apt-get install -y fortunes-min
set -eu
src=${FORTUNES:-/usr/share/games/fortunes/fortunes}
out=${1:-fortunes.csv}
t=${2:-24}
s=${3:-3}
if [ ! -r "$src" ]; then
  echo "fortunes.sh: $src not found; install it with: apt-get install -y fortunes-min" >&2
  exit 1
fi
tmp=$out.tmp.$$
LC_ALL=C awk -v T="$t" -v S="$s" '
BEGIN { for (c = 32; c <= 126; c++) id[sprintf("%c", c)] = c - 31 }
{
  line = ($0 == "%") ? "" : $0
  gsub(/\t/, " ", line)
  for (i = 1; i <= length(line); i++) {
    ch = substr(line, i, 1)
    if (ch in id) seq[n++] = id[ch]
  }
  seq[n++] = 0                                   # newline
}
END {
  hdr = ""
  for (i = 1; i <= T; i++) hdr = hdr "c" i ","
  print hdr "next"
  rows = 0
  for (p = 0; p + T < n; p += S) {
    row = ""
    for (i = 0; i < T; i++) row = row seq[p + i] ","
    print row seq[p + T]
    rows++
  }
}' "$src" > "$tmp"
mv "$tmp" "$out"
echo "fortunes.sh: wrote $out ($(($(wc -l < "$out") - 1)) windows of $t characters + next)" >&2
