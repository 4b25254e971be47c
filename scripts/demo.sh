#!/bin/sh
# make demo: compile LeNet-5 to a native program, run it on real Fashion-MNIST
# test images, and show its outputs beside the reference interpreter's.
set -e
BUILD=${1:-build}
DATA=/usr/share/datasets/fashion-mnist
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
OUT=$BUILD/demo
mkdir -p "$OUT"

echo "== smelt compile examples/lenet.smelt -o $OUT/lenet"
"$BUILD/smelt" compile examples/lenet.smelt -o "$OUT/lenet"
echo
echo "== compiled program on the first 64 Fashion-MNIST test images (untrained, seeded initializers)"
"$OUT/lenet" --input "$IMAGES" --output "$OUT/lenet_out.npy"
"$OUT/lenet" --input "$IMAGES" | head -6
echo
echo "== reference interpreter on the same images"
"$BUILD/smelt" run examples/lenet.smelt --input "$IMAGES" --output "$OUT/interp_out.npy"
"$BUILD/smelt" run examples/lenet.smelt --input "$IMAGES" | head -6
echo
echo "== compiled vs interpreter"
"$BUILD/smelt" diff "$OUT/lenet_out.npy" "$OUT/interp_out.npy"
echo
echo "== speed (64 images per run)"
"$OUT/lenet" --input "$IMAGES" --repeat 50 | head -1
