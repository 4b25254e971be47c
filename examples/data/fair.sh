#!/bin/sh
# Fair's extramarital-affairs survey (statsmodels' `fair` dataset, Debian
# package python3-statsmodels) as a binary-classification CSV for
# examples/perceptron.smelt: the 8 survey features, then the label
# 1 if affairs > 0 else 0. The file lists the affairs > 0 rows first, so
# rows are put in a fixed pseudo-random order (row i goes to position
# i * 2749 mod N), and a --val-split holdout is a fair sample.
#   usage: examples/data/fair.sh [OUT.csv]      (default: fair.csv)
#   needs: apt-get install -y python3-statsmodels   (only for the CSV file)
set -eu
src=/usr/lib/python3/dist-packages/statsmodels/datasets/fair/fair.csv
out=${1:-fair.csv}
if [ ! -r "$src" ]; then
  echo "fair.sh: $src not found; install it with: apt-get install -y python3-statsmodels" >&2
  exit 1
fi
tmp=$out.tmp.$$
awk -F, '
NR == 1 { next }                                  # header
{ n++; row[n] = $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," $7 "," $8 "," ($9 > 0 ? 1 : 0) }
END {
  print "rate_marriage,age,yrs_married,children,religious,educ,occupation,occupation_husb,affair"
  a = 2749                                        # coprime with n (checked below)
  x = n; y = a; while (y) { t = x % y; x = y; y = t }
  if (x != 1) { print "fair.sh: shuffle step not coprime with " n > "/dev/stderr"; exit 1 }
  for (i = 0; i < n; i++) out[(i * a) % n] = row[i + 1]
  for (i = 0; i < n; i++) print out[i]
}' "$src" > "$tmp"
mv "$tmp" "$out"
echo "fair.sh: wrote $out ($(($(wc -l < "$out") - 1)) rows, 8 features + label)" >&2
