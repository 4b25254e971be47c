#!/bin/sh
# make demo: compile an MLP's training step to a native program, train it on
# Fashion-MNIST, then run the trained model on test images beside the
# reference interpreter.
set -e
BUILD=${1:-build}
DATA=/usr/share/datasets/fashion-mnist
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
OUT=$BUILD/demo
mkdir -p "$OUT"

echo "== smelt compile examples/mlp.smelt --train -o $OUT/mlp"
"$BUILD/smelt" compile examples/mlp.smelt --train -o "$OUT/mlp"
echo
echo "== $OUT/mlp train --data $DATA --epochs 1 (784-256-128-10, SGD+Nesterov, dropout)"
"$OUT/mlp" train --data "$DATA" --epochs 1 --save "$OUT/mlp.safetensors" \
  --metrics "$OUT/mlp_metrics.csv"
echo
echo "== the trained program on the first 64 test images"
"$OUT/mlp" infer --weights "$OUT/mlp.safetensors" --input "$IMAGES" | head -6
"$OUT/mlp" infer --weights "$OUT/mlp.safetensors" --input "$IMAGES" --output "$OUT/mlp_out.npy" >/dev/null
echo
echo "== the reference interpreter on the same images and weights"
"$BUILD/smelt" run examples/mlp.smelt --weights "$OUT/mlp.safetensors" --input "$IMAGES" | head -6
"$BUILD/smelt" run examples/mlp.smelt --weights "$OUT/mlp.safetensors" --input "$IMAGES" \
  --output logits="$OUT/interp_out.npy" >/dev/null
echo
echo "== compiled vs interpreter (logits)"
"$BUILD/smelt" diff "$OUT/mlp_out.npy" "$OUT/interp_out.npy"
echo
echo "== LeNet-5 inference: compiled vs interpreter (untrained, seeded initializers)"
"$BUILD/smelt" compile examples/lenet.smelt -o "$OUT/lenet"
"$OUT/lenet" --input "$IMAGES" --output "$OUT/lenet_out.npy" >/dev/null
"$BUILD/smelt" run examples/lenet.smelt --input "$IMAGES" --output "$OUT/lenet_interp.npy" >/dev/null
"$BUILD/smelt" diff "$OUT/lenet_out.npy" "$OUT/lenet_interp.npy"
"$OUT/lenet" --input "$IMAGES" --repeat 20 | head -1
