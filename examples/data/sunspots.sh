#!/bin/sh
# Yearly sunspot numbers 1700-2008 (statsmodels' `sunspots` dataset, Debian
# package python3-statsmodels) windowed for examples/lstm_timeseries.smelt:
# each CSV row holds W consecutive yearly values, then the next year's
# value (the target). Values are divided by 100 (the series spans 0..190)
# so the LSTM sees inputs and targets of order 1; multiply reported MAE by
# 100 (and MSE by 10,000) for sunspot-number units. Rows stay in time
# order, so --val-split 0.2 holds out the most recent years.
#   usage: examples/data/sunspots.sh [OUT.csv [W]]   (default: sunspots.csv, W=16)
#   needs: apt-get install -y python3-statsmodels   (only for the CSV file)
set -eu
src=/usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv
out=${1:-sunspots.csv}
w=${2:-16}
if [ ! -r "$src" ]; then
  echo "sunspots.sh: $src not found; install it with: apt-get install -y python3-statsmodels" >&2
  exit 1
fi
tmp=$out.tmp.$$
awk -F, -v w="$w" '
NR == 1 { next }                                  # "YEAR","SUNACTIVITY"
{ n++; v[n] = $2 / 100 }
END {
  line = ""
  for (i = 1; i <= w; i++) line = line "t" i ","
  print line "next"
  for (s = 1; s + w <= n; s++) {
    line = ""
    for (i = 0; i < w; i++) line = line v[s + i] ","
    print line v[s + w]
  }
}' "$src" > "$tmp"
mv "$tmp" "$out"
echo "sunspots.sh: wrote $out ($(($(wc -l < "$out") - 1)) windows of $w years + next)" >&2
