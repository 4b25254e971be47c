#!/usr/bin/env python3
"""smelt's convolution and GEMM kernels against OpenBLAS and oneDNN, shape by shape.

Usage (from the repository root, after `make`; Debian libopenblas-dev and
libdnnl-dev are optional, each library is timed when its header is present):
    python3 bench/vs_blas.py [--smelt build/smelt] [--threads 2] [--repeat 20]
                             [--stat mean|min] [--dnnl-act any|nchw] [--cold]
                             [--keep DIR] MODEL...

For each model, `smelt inspect MODEL --after all` and `--kernels` give the
inference function's kernels and the operand types and attributes of their
conv2d / conv1d / gemm / matmul member, `smelt bench MODEL --top 0` gives
each kernel's time (mean over --repeat profiled steps). bench/vs_blas.c,
built here with cc, times the same shapes through OpenBLAS (im2col +
single-threaded cblas_sgemm on OpenMP threads, 1x1 stride-1 convolutions a
plain sgemm) and oneDNN (convolution forward and matmul primitives).
Forward only: the training step's backward kernels are not
covered. Standard library only (no numpy).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADERS = {
    "openblas": ["/usr/include/x86_64-linux-gnu/cblas.h", "/usr/include/cblas.h",
                 "/usr/include/openblas/cblas.h"],
    "dnnl": ["/usr/include/dnnl.h", "/usr/include/oneapi/dnnl/dnnl.h"],
}


def die(msg):
    sys.exit(f"vs_blas.py: error: {msg}")


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        die(f"{' '.join(cmd)} failed (exit {out.returncode}):\n{out.stdout}{out.stderr}")
    return out.stdout


# ---- the graph after the pipeline (smelt inspect --after all) ----

TYPE = r'(?:"(?:[^"\\]|\\.)*"|[^\s:,"]+): \w+\[[\d,]*\]'


def parse_type(t):
    m = re.fullmatch(r'\w+\[([\d,]*)\]', t.strip())
    return [int(v) for v in m.group(1).split(",") if v] if m else None


def split_top(s):
    """split at commas outside brackets and quotes"""
    parts, depth, quote, cur = [], 0, False, ""
    for i, ch in enumerate(s):
        if quote:
            cur += ch
            if ch == '"' and s[i - 1] != "\\":
                quote = False
        elif ch == '"':
            quote, cur = True, cur + ch
        elif ch in "[(":
            depth, cur = depth + 1, cur + ch
        elif ch in "])":
            depth, cur = depth - 1, cur + ch
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def attr_value(v):
    v = v.strip()
    if v.startswith("["):
        return [attr_value(x) for x in split_top(v[1:-1])]
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v.strip('"')


def parse_graph(text):
    """value name -> shape, and the nodes in order: (results, op, operands, attrs);
    a node's number is its position (checked against the kernel comments)"""
    shapes, nodes, anchors = {}, [], []
    for line in text.splitlines():
        if line.startswith("# kernel "):
            m = re.match(r"# kernel (k\d+) fuses: (\w+)\(n(\d+)\)", line)
            if m:
                anchors.append((len(nodes), int(m.group(3))))
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"(input|param) (.+?): (\w+\[[\d,]*\])", line)
        if m:
            shapes[m.group(2)] = parse_type(m.group(3))
            continue
        if " = " not in line or not re.match(TYPE, line):
            continue
        lhs, rhs = line.split(" = ", 1)
        results = []
        for r in re.finditer(r'("(?:[^"\\]|\\.)*"|[^\s:,"]+): (\w+\[[\d,]*\])', lhs):
            shapes[r.group(1)] = parse_type(r.group(2))
            results.append(r.group(1))
        m = re.match(r"(\w+)\((.*)\)\s*$", rhs)
        if not m:
            die(f"cannot parse node line: {line}")
        operands, attrs = [], {}
        for a in split_top(m.group(2)):
            am = re.match(r'(\w+)=(.*)$', a)
            if am:
                attrs[am.group(1)] = attr_value(am.group(2))
            else:
                operands.append(a)
        nodes.append((results, m.group(1), operands, attrs))
    for pos, nid in anchors:
        if pos != nid:
            die(f"node numbering of `smelt inspect --after all` is not positional (n{nid} at {pos})")
    return shapes, nodes


def parse_kernels(text):
    """[(kernel name, [(op, node number)], flops)] of the first function"""
    ks, fn = [], 0
    for line in text.splitlines():
        if line.startswith("# function"):
            fn += 1
            continue
        m = re.match(r"(k\d+)\s+(\S+)\s+(\d+) flops", line)
        if m and fn <= 1:
            members = [(op, int(n)) for op, n in re.findall(r"(\w+)\(n(\d+)\)", m.group(2))]
            ks.append((m.group(1), members, int(m.group(3))))
    return ks


def numel(s):
    p = 1
    for d in s:
        p *= d
    return p


def ints2(v, default):
    if v is None:
        return [default, default]
    v = v if isinstance(v, list) else [v]
    return [v[0], v[0]] if len(v) == 1 else v[:2]


def shape_line(kernel, members, shapes, nodes):
    """the vs_blas line of a kernel and a note on epilogue members it does not
    reproduce; None when the kernel has no conv/gemm/matmul"""
    main = next(((op, n) for op, n in members if op in ("conv2d", "conv1d", "gemm", "matmul")), None)
    if not main:
        return None
    results, op, operands, attrs = nodes[main[1]]
    if op != main[0]:
        die(f"{kernel}: node n{main[1]} is {op}, expected {main[0]}")
    x, w = shapes[operands[0]], shapes[operands[1]]
    y = shapes[results[0]]
    flags, notes = [], []
    if op in ("conv2d", "conv1d"):
        if op == "conv1d":  # as a conv2d of height 1
            x, w, y = [x[0], x[1], 1, x[2]], [w[0], w[1], 1, w[2]], [y[0], y[1], 1, y[2]]
            st = [1, (attrs.get("strides") or [1])[0]]
            dl = [1, (attrs.get("dilations") or [1])[0]]
            p = attrs.get("pads") or [0]
            p = p if isinstance(p, list) else [p]
            pads = [0, p[0], 0, p[-1]]
        else:
            st, dl = ints2(attrs.get("strides"), 1), ints2(attrs.get("dilations"), 1)
            p = attrs.get("pads") or [0]
            p = p if isinstance(p, list) else [p]
            pads = [p[0]] * 4 if len(p) == 1 else p * 2 if len(p) == 2 else p
        g = attrs.get("group", 1)
        n, c, h, wd = x
        m, _, kh, kw = w
        line = f"conv {n} {c} {h} {wd} {m} {kh} {kw} {st[0]} {st[1]} {pads[0]} {pads[1]}"
        if g != 1:
            line += f" g={g}"
        if dl != [1, 1]:
            line += f" d={dl[0]},{dl[1]}"
        if pads[2:] != pads[:2]:
            line += f" pe={pads[2]},{pads[3]}"
        if len(operands) > 2:
            flags.append("bias")
        channels = m
    else:
        batch = 0
        if op == "gemm":
            ta, tb = attrs.get("transA", 0), attrs.get("transB", 0)
            mm, k = (x[1], x[0]) if ta else (x[0], x[1])
            nn = w[0] if tb else w[1]
            if attrs.get("alpha", 1) != 1 or attrs.get("beta", 1) != 1:
                notes.append("alpha/beta")
            if len(operands) > 2:
                flags.append("sum" if numel(shapes[operands[2]]) == numel(y) and y[0] > 1 else "bias")
        else:  # matmul: A [..., M, K] by a 2-D B (batch folded into M) or by B [..., K, N]
            ta = tb = 0
            if len(x) >= 2 and len(w) == 2:
                mm, k, nn = numel(x[:-1]), x[-1], w[1]
            elif len(x) >= 3 and x[:-2] == w[:-2]:
                batch, mm, k, nn = numel(x[:-2]), x[-2], x[-1], w[-1]
            else:
                return f"# {kernel}: matmul {x} x {w} not supported (broadcast or 1-D)", None
        line = f"gemm {mm} {nn} {k} {ta} {tb}" + (f" b={batch}" if batch > 1 else "")
        channels = nn
    # the epilogue: the members after the anchor op, by what their other operand is
    inside = set(results)
    for mop, mn in members:
        if mn == main[1]:
            continue
        res, _, ops, _ = nodes[mn]
        outside = [o for o in ops if o not in inside]
        inside.update(res)
        if mop == "relu":
            flags.append("relu")
        elif mop in ("add", "mul", "sub") and len(outside) == 1:
            e = numel(shapes[outside[0]])
            if e == numel(y) and mop == "add":
                flags.append("sum")
            elif e == channels:
                if mop != "mul":  # batchnorm's scale: folded into the weights by a framework
                    flags.append("bias")
            else:
                notes.append(mop)
        else:
            notes.append(mop)
    seen = []
    for f in flags:
        if f not in seen:
            seen.append(f)
    return " ".join([line] + seen), ",".join(notes)


# ---- smelt bench and vs_blas ----

def smelt_bench(smelt, model, threads, repeat):
    out = run([smelt, "bench", model, "--top", "0", "--repeat", str(repeat), "--threads",
               str(threads), "--interp-repeat", "0"])
    times = {}
    for line in out.splitlines():
        m = re.match(r"\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+\S+\s+\S+\s+[\d.]+\s+(k\d+)\s", line)
        if m:
            times[m.group(2)] = float(m.group(1))
    step = re.search(r"generated:\s+([\d.]+) ms/step median, ([\d.]+) min", out)
    kern = re.search(r"; ([\d.]+) ms/step in kernels", out)
    if not times or not step:
        die(f"cannot read the per-kernel profile of `smelt bench {model}`:\n{out}")
    return times, float(step.group(1)), float(kern.group(1)) if kern else 0.0


def build_tool(tmp):
    flags, libs, have = [], [], []
    for lib, macro, link in (("openblas", "HAVE_OPENBLAS", "-lopenblas"),
                             ("dnnl", "HAVE_DNNL", "-ldnnl")):
        if any(os.path.exists(h) for h in HEADERS[lib]):
            flags.append("-D" + macro)
            libs.append(link)
            have.append(lib)
    exe = os.path.join(tmp, "vs_blas")
    cc = os.environ.get("CC", "cc")
    run([cc, "-std=c11", "-O2", "-march=native", "-fopenmp", "-Wall", "-Wextra", "-Werror",
         *flags, os.path.join(ROOT, "bench", "vs_blas.c"), "-o", exe, *libs, "-lm"])
    return exe, have


def vs_blas(exe, shapes_file, threads, repeat, act, flush):
    """{id: (lib -> (min ms, mean ms), err, dnnl impl)}, header lines, exit status"""
    env = dict(os.environ)
    env.setdefault("OPENBLAS_CORETYPE", "Haswell")
    env.setdefault("OMP_PROC_BIND", "close")
    env["OPENBLAS_NUM_THREADS"] = "1"  # called single-threaded from OpenMP threads
    cmd = [exe, "--threads", str(threads), "--repeat", str(repeat), "--dnnl-act", act,
           "--flush", str(flush), shapes_file]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode not in (0, 1) or "\nid " not in out.stdout:
        die(f"{' '.join(cmd)} failed (exit {out.returncode}):\n{out.stdout}{out.stderr}")
    rows, header = {}, []
    for line in out.stdout.splitlines():
        if line.startswith("#"):
            header.append(line[2:])
            continue
        f = line.split()  # id op shape... MFLOP blas_min blas_mean dnnl_min dnnl_mean err impl
        if len(f) < 10 or f[0] == "id":
            continue
        t = {lib: (float(f[c]), float(f[c + 1])) for lib, c in (("openblas", -6), ("dnnl", -4))
             if f[c] != "-"}
        rows[f[0]] = (t, f[-2], f[-1])
    if out.returncode == 1:
        print(out.stderr.strip(), file=sys.stderr)
    return rows, header, out.returncode


# ---- the table ----

def fmt(v, w=9, p=3):
    return f"{v:{w}.{p}f}" if v is not None else f"{'-':>{w}}"


def ratio(a, b):
    return f"{a / b:6.2f}" if a is not None and b else f"{'-':>6}"


def describe(f):
    """short text of a vs_blas line split into words"""
    opt = " ".join(x for x in f if "=" in x and not x.startswith("b="))
    if f[0] == "conv":
        n, c, h, w, m, kh, kw, sh, sw, ph, pw = f[1:12]
        s = f"{n}x{c}x{h}x{w} w{m}x{kh}x{kw} s{sh}" + (f",{sw}" if sw != sh else "")
        s += f" p{ph}" + (f",{pw}" if pw != ph else "")
    else:
        m, n, k, ta, tb = f[1:6]
        s = "".join(x[2:] + "*" for x in f if x.startswith("b=")) + f"{m}x{n}x{k}"
        s += (" tA" if ta == "1" else "") + (" tB" if tb == "1" else "")
    return f"{f[0]} {s} {opt}".strip()


def model_table(args, exe, have, model, tmp):
    kern_txt = run([args.smelt, "inspect", model, "--kernels"])
    graph_txt = run([args.smelt, "inspect", model, "--after", "all"])
    shapes, nodes = parse_graph(graph_txt)
    rows, lines = [], {}
    for kname, members, _ in parse_kernels(kern_txt):
        sl = shape_line(kname, members, shapes, nodes)
        if sl is None:
            continue
        line, note = sl
        if note is None:
            print(line, file=sys.stderr)
            continue
        sid = lines.setdefault(line, f"s{len(lines)}")
        rows.append((kname, line, sid, note))
    if not rows:
        print(f"{model}: no conv2d/conv1d/gemm/matmul kernels")
        return 0
    sf = os.path.join(tmp, os.path.basename(model) + ".shapes")
    with open(sf, "w") as f:
        for line, sid in lines.items():
            f.write(f"{line} id={sid}\n")
    times, step_med, in_kernels = smelt_bench(args.smelt, model, args.threads, args.repeat)
    ref, info, fail = vs_blas(exe, sf, args.threads, args.repeat, args.dnnl_act,
                              64 if args.cold else 0)
    info = [x for x in info if x.startswith(("OpenBLAS", "oneDNN"))]
    stat = 1 if args.stat == "mean" else 0
    print(f"\n== {os.path.relpath(model, ROOT)}: {args.threads} thread{'s' * (args.threads > 1)}, "
          f"smelt step {step_med:.3f} ms median ({in_kernels:.3f} ms in kernels)")
    for x in info:
        print(f"   {x}")
    print(f"{'kernel':<7} {'shape':<34} {'epilogue':<14} {'smelt':>9} {'OpenBLAS':>9} {'oneDNN':>9} "
          f"{'BLAS/sm':>7} {'DNNL/sm':>7}  {'err':>8}  dnnl impl")
    tot = {"smelt": 0.0, "openblas": 0.0, "dnnl": 0.0}
    for kname, line, sid, note in rows:
        f = line.split()
        desc = describe(f)
        epi = [x for x in f if x in ("bias", "sum", "relu")]
        epi = "+".join(epi) + (f" ({note}?)" if note else "")
        sm = times.get(kname)
        t, err, impl = ref.get(sid, ({}, "-", "-"))
        bt = t["openblas"][stat] if "openblas" in t else None
        dt = t["dnnl"][stat] if "dnnl" in t else None
        if sm is not None:
            tot["smelt"] += sm
        tot["openblas"] += bt or 0
        tot["dnnl"] += dt or 0
        print(f"{kname:<7} {desc[:34]:<34} {epi[:14]:<14} {fmt(sm)} {fmt(bt)} {fmt(dt)} "
              f"{ratio(bt, sm):>7} {ratio(dt, sm):>7}  {err:>8}  {impl}")
    bt = tot["openblas"] if "openblas" in have else None
    dt = tot["dnnl"] if "dnnl" in have else None
    print(f"{'total':<7} {f'{len(rows)} kernels, {len(lines)} distinct shapes':<34} {'':<14} "
          f"{fmt(tot['smelt'])} {fmt(bt)} {fmt(dt)} {ratio(bt, tot['smelt']):>7} "
          f"{ratio(dt, tot['smelt']):>7}")
    return fail


LEGEND = [
    "ms per kernel call. smelt: mean over --repeat profiled steps of `smelt bench`, each kernel "
    "inside the whole step, its fused epilogue included. OpenBLAS: im2col + single-threaded "
    "cblas_sgemm + epilogue per task on OpenMP threads (tasks: samples x groups, else column "
    "blocks; gemm: row or column blocks); 1x1 stride-1 convolutions skip the im2col. oneDNN: "
    "convolution forward / matmul primitive with bias and sum/relu post-ops, weights in the "
    "primitive's layout (reordered once, untimed). Both: the {stat} over --repeat runs after "
    "3 warm-ups, {cache}.",
    "epilogue: bias = per-channel add (batchnorm's shift; its scale counts as folded into the "
    "weights and is not redone by the references), sum = residual add, relu; '(op?)' = a fused "
    "member the references do not run.",
    "shape: conv NxCxHxW wMxKHxKW s(tride) p(ad) [g= d= pe=]; gemm [B*]MxNxK, tA/tB transposed. "
    "BLAS/sm, DNNL/sm: reference time / smelt time (> 1: smelt is faster). err: largest "
    "difference of a reference's result to a direct double-precision one at sampled outputs, "
    "relative to the largest |value|.",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", metavar="MODEL")
    ap.add_argument("--smelt", default=os.path.join(ROOT, "build", "smelt"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--stat", choices=["mean", "min"], default="mean",
                    help="reference time shown (smelt's profile is a mean)")
    ap.add_argument("--dnnl-act", choices=["any", "nchw"], default="any",
                    help="oneDNN activations: its preferred blocked layout, or nchw as smelt's")
    ap.add_argument("--cold", action="store_true",
                    help="evict the caches (64 MB rewritten) before each reference run")
    ap.add_argument("--keep", metavar="DIR", help="keep the built tool and shape files in DIR")
    args = ap.parse_args()
    if args.threads < 1 or args.repeat < 1:
        die("--threads and --repeat must be >= 1")
    if not os.access(args.smelt, os.X_OK):
        die(f"{args.smelt} is not an executable (build smelt first, or pass --smelt)")
    for m in args.models:
        if not os.path.isfile(m):
            die(f"no such model: {m}")
    tmp_ctx = tempfile.TemporaryDirectory() if not args.keep else None
    tmp = args.keep or tmp_ctx.name
    os.makedirs(tmp, exist_ok=True)
    exe, have = build_tool(tmp)
    if not have:
        print("neither cblas.h nor dnnl.h found: only smelt's times are shown "
              "(apt-get install libopenblas-dev libdnnl-dev)")
    if "OPENBLAS_CORETYPE" not in os.environ and "openblas" in have:
        print("OPENBLAS_CORETYPE unset: using Haswell (Debian's 0.3.21 does not recognise newer CPUs)")
    fail = 0
    for m in args.models:
        fail |= model_table(args, exe, have, os.path.abspath(m), tmp)
    print()
    cache = ("caches evicted before each run" if args.cold else
             "back to back with operands hot in cache (smelt's kernels run inside the step, "
             "where earlier kernels may have evicted their operands; --cold evicts the caches "
             "before each reference run)")
    for i, par in enumerate(LEGEND):
        print(textwrap.fill(par.format(stat=args.stat, cache=cache), 96,
                            initial_indent="legend: " if i == 0 else "  ",
                            subsequent_indent="  ", break_on_hyphens=False))
    if tmp_ctx:
        tmp_ctx.cleanup()
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
