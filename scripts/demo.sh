#!/bin/sh
# make demo: compile the training steps of an MLP and LeNet-5 to native
# programs, train them on Fashion-MNIST, then run the trained models on test
# images beside the reference interpreter.
set -e
BUILD=${1:-build}
DATA=/usr/share/datasets/fashion-mnist
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
OUT=$BUILD/demo
mkdir -p "$OUT"

echo "== smelt compile examples/mlp.smelt --train -o $OUT/mlp"
"$BUILD/smelt" compile examples/mlp.smelt --train -o "$OUT/mlp"
echo
echo "== $OUT/mlp train --data $DATA --epochs 5 (784-256-128-10, SGD+Nesterov, dropout, cosine)"
"$OUT/mlp" train --data "$DATA" --epochs 5 --save "$OUT/mlp.safetensors" \
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
echo "== LeNet-5: train 2 epochs (Adam), then the trained program vs the interpreter"
"$BUILD/smelt" compile examples/lenet.smelt --train -o "$OUT/lenet"
"$OUT/lenet" train --data "$DATA" --epochs 2 --save "$OUT/lenet.safetensors" | grep "^epoch\|^validation set"
"$OUT/lenet" infer --weights "$OUT/lenet.safetensors" --input "$IMAGES" --output "$OUT/lenet_out.npy" >/dev/null
"$BUILD/smelt" run examples/lenet.smelt --weights "$OUT/lenet.safetensors" --input "$IMAGES" \
  --output "$OUT/lenet_interp.npy" >/dev/null
"$BUILD/smelt" diff "$OUT/lenet_out.npy" "$OUT/lenet_interp.npy"
"$OUT/lenet" infer --weights "$OUT/lenet.safetensors" --input "$IMAGES" --repeat 20 | head -1
