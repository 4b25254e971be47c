#!/bin/sh
# Compile time against graph size: chains of elementwise ONNX nodes (Add,
# Mul, Relu, Sigmoid in turn on an f32[4,8] tensor) and a long .smelt file,
# each imported and compiled to C (`smelt compile --emit c --no-check`), and
# the .smelt file also just loaded and printed back (`smelt inspect --after parse`).
#   bench/compile_scale.sh [SIZES] [SMELT_LINES]
# SIZES defaults to "1000 5000 20000 50000", SMELT_LINES to 40000. Needs
# build/smelt and python with the onnx package (.venv/bin/python if there,
# else $PYTHON or python3). Add FULL=1 to time a full executable build (cc
# included) of the smallest chain too. Files go to a temporary directory.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMELT=${SMELT:-$ROOT/build/smelt}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
SIZES=${1:-"1000 5000 20000 50000"}
LINES=${2:-40000}
T=$(mktemp -d "${TMPDIR:-/tmp}/smelt-scale.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

# seconds taken by a command (its output discarded; a failure stops the run)
secs() {
  s=$(date +%s.%N)
  "$@" >/dev/null 2>"$T/err" || { echo "failed: $*" >&2; cat "$T/err" >&2; exit 1; }
  e=$(date +%s.%N)
  echo "$s $e" | awk '{printf "%.2f", $2 - $1}'
}

"$PY" - "$T" $SIZES <<'PY'
import sys
import onnx
from onnx import TensorProto, helper
out, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
ops = ["Add", "Mul", "Relu", "Sigmoid"]
for n in sizes:
    nodes, prev = [], "x"
    for i in range(n):
        op = ops[i % 4]
        ins = [prev, "c"] if op in ("Add", "Mul") else [prev]
        nodes.append(helper.make_node(op, ins, [f"v{i}"]))
        prev = f"v{i}"
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor("c", TensorProto.FLOAT, [8], [0.5] * 8)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), f"{out}/chain{n}.onnx")
PY

# the .smelt file: a chain of the same ops, one node a line
awk -v n="$LINES" 'BEGIN {
  print "model lines"; print "input x: f32[4,8]"; print "param c: f32[8] = ones"
  split("add mul relu sigmoid", op, " "); prev = "x"
  for (i = 0; i < n - 4; i++) {
    o = op[i % 4 + 1]
    printf "v%d = %s(%s%s)\n", i, o, prev, (o == "add" || o == "mul") ? ", c" : ""
    prev = "v" i
  }
  print "output " prev
}' > "$T/lines.smelt"

printf '%-18s %8s %10s %12s\n' model nodes "import s" "compile s"
for n in $SIZES; do
  f=$T/chain$n.onnx
  imp=$(secs "$SMELT" inspect "$f" --after parse)
  cmp=$(secs "$SMELT" compile "$f" --emit c --no-check -o "$T/chain$n")
  printf '%-18s %8d %10s %12s\n' "chain$n.onnx" "$n" "$imp" "$cmp"
done
imp=$(secs "$SMELT" inspect "$T/lines.smelt" --after parse)
cmp=$(secs "$SMELT" compile "$T/lines.smelt" --emit c --no-check -o "$T/lines")
printf '%-18s %8d %10s %12s\n' "lines.smelt" "$((LINES - 4))" "$imp" "$cmp"
if [ "${FULL:-0}" = 1 ]; then
  n=$(echo $SIZES | awk '{print $1}')
  printf 'full build of chain%s.onnx (cc included): %s s\n' "$n" \
    "$(secs "$SMELT" compile "$T/chain$n.onnx" -o "$T/chain${n}_exe")"
fi
