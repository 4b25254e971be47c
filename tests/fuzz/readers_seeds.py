#!/usr/bin/env python3
"""Writes the seed files of tests/fuzz/readers_corpus: small valid and
near-valid .npy, safetensors, IDX and CSV files, each prefixed with the byte
that selects its reader in tests/fuzz/fuzz_readers.c."""
import gzip, json, os, struct, sys

NPY, ST, IDX, IDX_GZ, IDX_RAWGZ, CSV, CSV_GZ, DATA_CSV, DATA_NPY = range(9)
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "readers_corpus")
os.makedirs(out, exist_ok=True)


def npy(descr, shape, data, pad_to=None, fortran=False, major=1):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, fortran, "".join("%d," % d for d in shape))
    pre = 10 if major == 1 else 12
    total = pad_to - len(data) if pad_to else (pre + len(h) + 1 + 63) // 64 * 64
    h = h + " " * (total - pre - len(h) - 1) + "\n"
    lenb = struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + lenb + h.encode() + data


def idx(t, dims, data):
    return bytes([0, 0, t, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def st(tensors, meta=True, pad=True):
    hdr, blob = {}, b""
    if meta:
        hdr["__metadata__"] = {"format": "pt"}
    for name, (dt, shape, data) in tensors.items():
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8 if pad else (1 - len(h) % 2))  # unpadded: odd length
    return struct.pack("<Q", len(h)) + h + blob


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
f64 = lambda *v: struct.pack("<%dd" % len(v), *v)
seeds = {
    "npy_f32": (NPY, npy("<f4", (2, 3), f32(1, 2, 3, 4, 5, 6))),
    "npy_f64_nan": (NPY, npy("<f8", (2,), f64(1, float("nan")))),
    "npy_i64": (NPY, npy("<i8", (3,), struct.pack("<3q", 1, -2, 3))),
    "npy_u1": (NPY, npy("|u1", (2, 2), bytes([0, 1, 2, 255]))),
    "npy_b1": (NPY, npy("|b1", (3,), bytes([0, 1, 7]))),
    "npy_i4_v2": (NPY, npy("<i4", (1, 1), struct.pack("<i", 7), major=2)),
    "npy_scalar": (NPY, npy("<f4", (), f32(3))),
    "npy_empty": (NPY, npy("<f4", (0, 4), b"")),
    "npy_trunc": (NPY, npy("<f4", (1000000, 1000), f32(1))),
    "npy_fortran": (NPY, npy("<f4", (2,), f32(1, 2), fortran=True)),
    "st_two": (ST, st({"w": ("F32", [2, 2], f32(1, 2, 3, 4)), "b": ("F64", [1], f64(0.5))})),
    "st_ints": (ST, st({"i": ("I64", [2], struct.pack("<2q", 1, 2)), "u": ("U8", [3], b"abc"),
                        "m": ("BOOL", [2], b"\x00\x05"), "j": ("I32", [], struct.pack("<i", 9))})),
    "st_inf": (ST, st({"w": ("F32", [2], f32(1, float("inf")))}, meta=False)),
    "st_unaligned": (ST, st({"b": ("U8", [1], b"x"), "d": ("F64", [2], f64(1, float("nan")))}, pad=False)),
    "st_empty": (ST, st({"e": ("F32", [0, 3], b"")})),
    "st_overlap": (ST, b""),
    "idx_u8": (IDX, idx(0x08, [2, 3], bytes(range(6)))),
    "idx_i8": (IDX, idx(0x09, [3], bytes([0x80, 0x7f, 0xff]))),
    "idx_i16": (IDX, idx(0x0B, [2], bytes([0x80, 0, 0x12, 0x34]))),
    "idx_i32": (IDX, idx(0x0C, [1, 2], struct.pack(">2i", 1, -2))),
    "idx_f32": (IDX, idx(0x0D, [2], struct.pack(">2f", 1.5, float("nan")))),
    "idx_f64": (IDX, idx(0x0E, [1], struct.pack(">d", -0.1))),
    "idx_huge": (IDX, idx(0x08, [0x7fffffff, 16], bytes(8))),
    "idxgz_u8": (IDX_GZ, idx(0x08, [4, 4], bytes(range(16)))),
    "idxgz_lie": (IDX_GZ, idx(0x0E, [60000, 28, 28], bytes(64))),
    "idxraw_u8": (IDX_RAWGZ, gzip.compress(idx(0x08, [2, 2], bytes([1, 2, 3, 4])), mtime=0)),
    "idxraw_cut": (IDX_RAWGZ, gzip.compress(idx(0x08, [64, 64], bytes(4096)), mtime=0)[:30]),
    "csv_header": (CSV, b'width, "height",label\r\n1.5,2,0\n\n  -3 , 4e1 ,1\n5,6,2\n'),
    "csv_plain": (CSV, b"1,2\n3,4\n"),
    "csv_nan": (CSV, b"a,b\n1,nan\n"),
    "csv_ragged": (CSV, b"1,2,3\n4,5\n"),
    "csv_wide": (CSV, b"," * 300 + b"\n"),
    "csv_quote": (CSV, b'"1","2"\n"3",4\r\n'),
    "csvgz_rows": (CSV_GZ, b"x,y,t\n" + b"".join(b"%d,%d,%d\n" % (i, i * 2, i % 3) for i in range(20))),
    "datacsv": (DATA_CSV, b"f1,f2,label\n0.5,1,2\n1.5,2,0\n"),
    "datacsv_onecol": (DATA_CSV, b"1\n2\n"),
}
# x.npy and y.idx of the same length (the harness splits the rest in halves)
y = idx(0x0E, [4, 8], f64(*range(32)))
seeds["datanpy_ok"] = (DATA_NPY, npy("|u1", (4, 3), bytes(12), pad_to=len(y)) + y)
y5 = idx(0x0E, [5, 8], f64(*range(40)))
seeds["datanpy_count"] = (DATA_NPY, npy("|u1", (4, 3), bytes(12), pad_to=len(y5)) + y5)
bad = st({"a": ("F32", [2], f32(1, 2)), "b": ("F32", [1], f32(3))})
seeds["st_overlap"] = (ST, bad.replace(b'"data_offsets": [8, 12]', b'"data_offsets": [4, 8]'))
for name, (sel, body) in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([sel]) + body)
print("%d seeds in %s" % (len(seeds), out))
