#!/bin/sh
# Writes 28x28 images as one grayscale PGM grid (P2, viewable by most image
# viewers; convert with e.g. `pnmtopng`): the first N images of
#   - an f32 .npy whose rows are 784 pixel values in 0..255 (as the
#     autoencoder's `infer --output` writes), or
#   - an IDX image file (.gz or not), e.g. the Fashion-MNIST originals.
#   usage: examples/data/grid.sh IN.npy|IN-idx3-ubyte[.gz] OUT.pgm [N [COLS]]   (default N=64, COLS=8)
# POSIX sh, od and awk only.
set -eu
in=$1
out=$2
n=${3:-64}
cols=${4:-8}
tmp=$out.tmp.$$
case "$in" in
*.npy)
  # npy v1: magic (6) + version (2) + header length (2, little endian) + header
  hlen=$(od -An -v -tu1 -j 8 -N 2 "$in" | awk '{ print $1 + 256 * $2 }')
  dd if="$in" bs=1 count=$((10 + hlen)) 2>/dev/null | grep -q "'<f4'" ||
    { echo "grid.sh: $in is not a little-endian f32 .npy" >&2; exit 1; }
  od -An -v -tf4 -j $((10 + hlen)) -N $((n * 784 * 4)) "$in" ;;
*.gz) gzip -dc "$in" | od -An -v -tu1 -j 16 -N $((n * 784)) ;;
*) od -An -v -tu1 -j 16 -N $((n * 784)) "$in" ;;
esac | awk -v n="$n" -v cols="$cols" '
{ for (i = 1; i <= NF; i++) v[k++] = $i }
END {
  n = int(k / 784); if (n == 0) { print "grid.sh: no images" > "/dev/stderr"; exit 1 }
  rows = int((n + cols - 1) / cols)
  W = cols * 29 + 1; H = rows * 29 + 1              # 1-pixel white borders
  print "P2"; print W, H; print 255
  for (y = 0; y < H; y++) {
    line = ""
    for (x = 0; x < W; x++) {
      p = 255
      if (x % 29 && y % 29) {
        img = int(y / 29) * cols + int(x / 29)
        if (img < n) {
          p = v[img * 784 + (y % 29 - 1) * 28 + (x % 29 - 1)]
          p = p < 0 ? 0 : p > 255 ? 255 : int(p + 0.5)
          p = 255 - p                                # dark ink on white
        }
      }
      line = line (x ? " " : "") p
    }
    print line
  }
}' > "$tmp"
mv "$tmp" "$out"
echo "grid.sh: wrote $out" >&2
