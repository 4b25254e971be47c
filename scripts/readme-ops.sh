#!/bin/sh
# Regenerates the ops table of README.md from `smelt ops` (between the
# <!-- ops-table --> markers). Usage: scripts/readme-ops.sh build/smelt
set -e
SMELT=${1:-build/smelt}
tmp=$(mktemp)
{
  echo "<!-- ops-table -->"
  echo "| op | semantics |"
  echo "|---|---|"
  "$SMELT" ops | awk '{name=$1; $1=""; sub(/^ +/, ""); gsub(/\|/, "\\|"); printf "| `%s` | %s |\n", name, $0}'
  echo "<!-- /ops-table -->"
} > "$tmp"
awk -v tbl="$tmp" '
  /<!-- ops-table -->/ { while ((getline line < tbl) > 0) print line; skip = 1; next }
  /<!-- \/ops-table -->/ { skip = 0; next }
  !skip { print }' README.md > README.md.tmp
mv README.md.tmp README.md
rm -f "$tmp"
