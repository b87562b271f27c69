#!/usr/bin/python3
"""PyTorch benchmark peer for the coupled training step of an ensemble of MLPs.

Contract (what the C++ engine implements, at the published real-data scale):
  N = 10 units, each an MLP 784 -> [20]*D -> 10 (ReLU, biases; D = 0 is one
  linear layer), trained on its own data (unit i sees only class i), minibatch
  B = 32, per-unit loss  L_i = mean softmax cross-entropy + (gamma/2)|theta_i|^2.
  One coupled step, with the coupling taken from the PRE-step parameters:
      theta_i <- theta_i - tau grad L_i(theta_i) + tau sigma (mean_j theta_j - theta_i)
  tau = 0.005, sigma = 1, gamma = 0.001.

Two implementations are timed, the batched one in two variants:
  loop             N nn.Sequential models, one torch.optim.SGD(weight_decay=gamma)
                   each, coupling added afterwards from a parameters_to_vector
                   snapshot -- the way the original authors would write it.
  batched-autograd all N networks stacked in one flat (N, P) parameter tensor,
                   forward with baddbmm, gradients by autograd, one fused update.
  batched-manual   same layout, hand-written backward (no autograd graph).

Reproduce (Debian 12, Debian packages only; Debian's python, not a pyenv one):
  apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
  /usr/bin/python3 bench/peer_torch.py --depths 0,1,2 --seconds 2 --threads 2,1 --json out.json
  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/peer_torch.py ...   # AVX-512 kernels, see below

Debian's torch calls whatever libblas.so.3 the alternatives system selects;
the script reports which library is really mapped. OpenBLAS 0.3.21 does not
recognise recent CPUs (AMD family 26 / Zen 5) and falls back to its AVX2
"Haswell" kernels; OPENBLAS_CORETYPE=SkylakeX (read when the library loads,
so it must be in the environment) gives it the AVX-512 ones.
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector

N_UNITS = 10
IN, HIDDEN, OUT = 784, 20, 10
BATCH = 32
TAU, SIGMA, GAMMA = 0.005, 1.0, 0.001
SAMPLES_PER_UNIT = 1000
WARMUP_STEPS = 50
IMPLS = ("loop", "batched-autograd", "batched-manual")


# --------------------------------------------------------------------------
# BLAS and threads
# --------------------------------------------------------------------------

def _loaded_blas_libraries():
    """Shared objects mapped into this process that look like a BLAS.

    Debian's libtorch links the generic libblas.so.3, which the alternatives
    system may point at the reference BLAS (slow) or OpenBLAS; the mapping is
    the only reliable way to know which one torch really calls.
    """
    try:
        with open(f"/proc/{os.getpid()}/maps") as fh:
            paths = {line.split()[-1] for line in fh if "/" in line}
    except OSError:
        return []
    keys = ("blas", "lapack", "blis", "atlas", "mkl", "dnnl")
    return sorted(p for p in paths if any(k in os.path.basename(p).lower() for k in keys))


def _openblas_handle():
    # libblas.so.3 is the very object torch resolved sgemm_ from; if it is
    # OpenBLAS it also exports openblas_* control functions.
    try:
        lib = ctypes.CDLL("libblas.so.3")
    except OSError:
        return None
    if not hasattr(lib, "openblas_set_num_threads"):
        return None
    lib.openblas_get_config.restype = ctypes.c_char_p
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib


OPENBLAS = None


def blas_info():
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # make sure BLAS is loaded
    info = {"libraries": _loaded_blas_libraries()}
    if OPENBLAS is not None:
        # Debian ships three builds; the threading model matters here (see set_threads).
        variant = next((v for v in ("pthread", "openmp", "serial")
                        if any(f"openblas-{v}/" in p for p in info["libraries"])), "?")
        info["name"] = f"OpenBLAS ({variant})"
        info["config"] = OPENBLAS.openblas_get_config().decode()
        info["corename"] = OPENBLAS.openblas_get_corename().decode()
    elif any("/blas/libblas" in p for p in info["libraries"]):
        info["name"] = "reference BLAS (netlib) -- select OpenBLAS with update-alternatives"
    else:
        info["name"] = "unknown"
    return info


def set_threads(n):
    """Give torch n threads, and the BLAS too.

    torch.set_num_threads only sizes ATen's OpenMP pool: Debian's torch is
    built with BLAS_INFO=generic and never tells OpenBLAS, whose own pthread
    pool stays at nproc. Without this, a "1 thread" run still runs its GEMMs
    on 2 threads.

    With 2 threads and the pthread build, two pools (ATen's OpenMP workers,
    OpenBLAS's pthreads) spin-wait for the same 2 cores whenever OpenBLAS
    threads a GEMM (its Haswell path does so from m n k ~ 2.6e5, i.e. the
    784x20 layers of D >= 1); steps then get up to ~10x slower. This is what a
    plain torch.set_num_threads(2) user gets, so it is measured as is; the
    openmp build of OpenBLAS (one shared pool) or the SkylakeX kernels (whose
    small-matrix path does not thread) avoid it.
    """
    torch.set_num_threads(n)
    if OPENBLAS is not None:
        OPENBLAS.openblas_set_num_threads(n)


def blas_threads():
    return OPENBLAS.openblas_get_num_threads() if OPENBLAS is not None else None


class CpuMonitor:
    """CPU used by OTHER processes while a case runs (Linux /proc/stat).

    The benchmark machine has 2 cores and may be shared; a figure taken while
    something else was running is worth flagging rather than silently trusting.
    """

    def __init__(self):
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _busy_seconds(self):
        try:
            with open("/proc/stat") as fh:
                f = [int(x) for x in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal ...
        return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)) / self.tick

    def __enter__(self):
        self.b0, self.p0, self.w0 = self._busy_seconds(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        b1, p1, w1 = self._busy_seconds(), time.process_time(), time.perf_counter()
        self.wall = w1 - self.w0
        self.own_cores = (p1 - self.p0) / self.wall
        self.other_cores = (None if b1 is None or self.b0 is None
                            else max(0.0, (b1 - self.b0) - (p1 - self.p0)) / self.wall)
        return False


def wait_quiet(max_wait, threshold=0.15, window=0.25):
    """Wait until other processes use < threshold cores; return seconds waited.

    On a 2-core machine a second busy process does not just halve the speed of
    a 2-thread run: ATen's OpenMP barriers then wait for a descheduled worker
    every parallel region, and steps/s can drop by 10-100x. Such figures say
    nothing about torch, so cases are run on a quiet machine where possible.
    """
    t0 = time.perf_counter()
    if max_wait <= 0:
        return 0.0
    while True:
        with CpuMonitor() as m:
            time.sleep(window)
        waited = time.perf_counter() - t0
        if m.other_cores is None or m.other_cores < threshold or waited >= max_wait:
            return waited


# --------------------------------------------------------------------------
# Problem set-up
# --------------------------------------------------------------------------

def layer_sizes(depth):
    dims = [IN] + [HIDDEN] * depth + [OUT]
    return list(zip(dims[:-1], dims[1:]))  # (in, out) per layer


def step_flops(depth, n_units=N_UNITS, batch=BATCH):
    """GEMM FLOPs of one coupled step: 2mnk for the forward product, the weight
    gradient and the input gradient, except that the first layer needs no
    input gradient. Elementwise work (bias, ReLU, softmax, update) is excluded
    (it is O(N P) ~ 10^5 for the update, O(N B width) for the rest)."""
    total = 0
    for l, (fan_in, fan_out) in enumerate(layer_sizes(depth)):
        products = 2 if l == 0 else 3
        total += products * 2 * batch * fan_in * fan_out
    return n_units * total


def param_count(depth):
    return sum(i * o + o for i, o in layer_sizes(depth))


def make_data(dtype, seed):
    """Per-unit private data, held once: X (N, S, 784) in [0, 1], labels (N, S) = unit index.

    Random uint8 pixels stand in for MNIST: the step cost does not depend on
    the pixel values, and the benchmark must run without downloading anything.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (N_UNITS, SAMPLES_PER_UNIT, IN), generator=g, dtype=torch.uint8)
    x = x.to(dtype) / 255.0
    y = torch.arange(N_UNITS).unsqueeze(1).expand(N_UNITS, SAMPLES_PER_UNIT).contiguous()
    return x, y


def draw_indices(gen):
    # A fresh random minibatch per unit per step (sampling with replacement,
    # like a RandomSampler with replacement); counted as part of the step.
    return torch.randint(0, SAMPLES_PER_UNIT, (N_UNITS, BATCH), generator=gen)


def make_models(depth, dtype, seed):
    """N nn.Sequential models with PyTorch's default nn.Linear initialisation."""
    torch.manual_seed(seed)
    models = []
    for _ in range(N_UNITS):
        layers = []
        for l, (i, o) in enumerate(layer_sizes(depth)):
            if l > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(i, o))
        models.append(nn.Sequential(*layers).to(dtype))
    return models


# --------------------------------------------------------------------------
# (a) loop: one model + one optimiser per unit
# --------------------------------------------------------------------------

class LoopEnsemble:
    def __init__(self, models):
        self.models = models
        # SGD's weight_decay adds gamma*theta to the gradient: exactly the
        # gradient of the (gamma/2)|theta|^2 term of the contract.
        self.opts = [torch.optim.SGD(m.parameters(), lr=TAU, weight_decay=GAMMA) for m in models]
        self.params = [list(m.parameters()) for m in models]

    def step(self, x, y, idx):
        with torch.no_grad():
            # Pre-step snapshot: the coupling must see the parameters every
            # unit had BEFORE anyone took its gradient step.
            snap = torch.stack([parameters_to_vector(p) for p in self.params])
            pull = TAU * SIGMA * (snap.mean(0, keepdim=True) - snap)
        for i, (model, opt) in enumerate(zip(self.models, self.opts)):
            xb, yb = x[i][idx[i]], y[i][idx[i]]
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        with torch.no_grad():
            for i, params in enumerate(self.params):
                off = 0
                for p in params:
                    n = p.numel()
                    p.add_(pull[i, off:off + n].view_as(p))
                    off += n

    def flat(self):
        with torch.no_grad():
            return torch.stack([parameters_to_vector(p) for p in self.params])


# --------------------------------------------------------------------------
# (b) batched: all units in one flat (N, P) tensor
# --------------------------------------------------------------------------

class BatchedEnsemble:
    """Parameters of all units in one (N, P) tensor, unit i's row laid out as
    [W_1 (out x in, row-major), b_1, W_2, b_2, ...] -- the parameters_to_vector
    order of nn.Sequential, so rows compare directly with the loop version.
    Per-layer weights are strided views (N, out, in) into it, so the update is
    one tensor expression over everything and no gather/scatter is needed.
    """

    def __init__(self, theta, depth, manual):
        self.theta = theta.clone().contiguous()
        self.grad = torch.zeros_like(self.theta)
        self.manual = manual
        self.layout = []
        off = 0
        for i, o in layer_sizes(depth):
            self.layout.append((off, i, o))
            off += i * o + o
        assert off == self.theta.shape[1]
        if not manual:
            self.theta.requires_grad_(True)

    def _views(self, flat):
        n = flat.shape[0]
        ws, bs = [], []
        for off, i, o in self.layout:
            ws.append(flat[:, off:off + i * o].view(n, o, i))
            bs.append(flat[:, off + i * o:off + i * o + o])
        return ws, bs

    def _forward(self, xb, keep):
        ws, bs = self._views(self.theta)
        h = xb
        acts = [xb]
        last = len(ws) - 1
        for l, (w, b) in enumerate(zip(ws, bs)):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if l < last:
                h = torch.relu(h)
                if keep:
                    acts.append(h)
        return h, acts, ws

    def _update(self, grad):
        # new = W - tau (grad + gamma W) + tau sigma (mean(W) - W), W pre-step.
        # Rearranged to W (1 - tau gamma - tau sigma) - tau grad + tau sigma mean(W)
        # so it runs in place: the mean is taken before W is touched.
        th = self.theta.detach() if not self.manual else self.theta
        mean = th.mean(0, keepdim=True)
        th.mul_(1.0 - TAU * GAMMA - TAU * SIGMA).add_(grad, alpha=-TAU).add_(mean, alpha=TAU * SIGMA)

    def step(self, x, y, idx):
        units = torch.arange(N_UNITS).unsqueeze(1)
        xb, yb = x[units, idx], y[units, idx]          # (N, B, 784), (N, B)
        if self.manual:
            self._step_manual(xb, yb)
        else:
            self._step_autograd(xb, yb)

    def _step_autograd(self, xb, yb):
        logits, _, _ = self._forward(xb, keep=False)
        # Sum over units of each unit's MEAN cross-entropy: unit i's gradient
        # is then exactly grad L_i (units do not share parameters).
        loss = F.cross_entropy(logits.reshape(-1, OUT), yb.reshape(-1), reduction="sum") / BATCH
        (grad,) = torch.autograd.grad(loss, self.theta)
        with torch.no_grad():
            self._update(grad)

    def _step_manual(self, xb, yb):
        logits, acts, ws = self._forward(xb, keep=True)
        gws, gbs = self._views(self.grad)
        # d(mean CE)/dlogits = (softmax - onehot) / B
        dz = torch.softmax(logits, dim=2)
        dz.scatter_add_(2, yb.unsqueeze(2), torch.full_like(dz[:, :, :1], -1.0))
        dz.div_(BATCH)
        for l in range(len(ws) - 1, -1, -1):
            # Written straight into the flat gradient through its strided views.
            torch.bmm(dz.transpose(1, 2), acts[l], out=gws[l])
            torch.sum(dz, dim=1, out=gbs[l])
            if l > 0:   # the input layer needs no input gradient
                da = torch.bmm(dz, ws[l])
                dz = da.masked_fill_(acts[l] <= 0, 0.0)   # ReLU': post-activation > 0
        self._update(self.grad)

    def flat(self):
        return self.theta.detach().clone()


def build(impl, depth, dtype, seed):
    models = make_models(depth, dtype, seed)
    if impl == "loop":
        return LoopEnsemble(models)
    theta = torch.stack([parameters_to_vector(m.parameters()) for m in models]).detach()
    return BatchedEnsemble(theta, depth, manual=(impl == "batched-manual"))


# --------------------------------------------------------------------------
# Correctness
# --------------------------------------------------------------------------

def reference_step(theta, depth, x, y, idx):
    """The contract written literally, one unit at a time, with the explicit
    (gamma/2)|theta|^2 term in the loss (no optimiser, no weight_decay trick)."""
    n = theta.shape[0]
    new = torch.empty_like(theta)
    mean = theta.mean(0)
    for i in range(n):
        t = theta[i].clone().requires_grad_(True)
        h, off = x[i][idx[i]], 0
        sizes = layer_sizes(depth)
        for l, (fi, fo) in enumerate(sizes):
            w = t[off:off + fi * fo].view(fo, fi)
            b = t[off + fi * fo:off + fi * fo + fo]
            off += fi * fo + fo
            h = h @ w.T + b
            if l < len(sizes) - 1:
                h = torch.relu(h)
        loss = F.cross_entropy(h, y[i][idx[i]]) + 0.5 * GAMMA * (t * t).sum()
        (g,) = torch.autograd.grad(loss, t)
        new[i] = theta[i] - TAU * g + TAU * SIGMA * (mean - theta[i])
    return new


def check(depths, steps=5, seed=7):
    """Same seed, same minibatches: every implementation must land on the same
    parameters as the literal contract after a few steps."""
    tol = {torch.float64: 1e-12, torch.float32: 2e-6}
    out = []
    for dtype in (torch.float64, torch.float32):
        x, y = make_data(dtype, seed)
        for depth in depths:
            ens = {impl: build(impl, depth, dtype, seed) for impl in IMPLS}
            ref = ens["loop"].flat()
            gen = torch.Generator().manual_seed(seed)
            for _ in range(steps):
                idx = draw_indices(gen)
                ref = reference_step(ref, depth, x, y, idx)
                for e in ens.values():
                    e.step(x, y, idx)
            scale = ref.abs().max().item()
            loop = ens["loop"].flat()
            for impl, e in ens.items():
                diff = (e.flat() - ref).abs().max().item()
                vs_loop = (e.flat() - loop).abs().max().item()
                out.append({"dtype": str(dtype).replace("torch.", ""), "depth": depth, "impl": impl,
                            "steps": steps, "max_abs_diff": diff, "max_abs_diff_vs_loop": vs_loop,
                            "max_abs_param": scale})
                for what, dv in (("the literal contract", diff), ("the loop version", vs_loop)):
                    assert dv <= tol[dtype] * max(1.0, scale), (
                        f"{impl} D={depth} {dtype}: max |diff| {dv:.3e} against {what}")
    return out


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def time_case(impl, depth, dtype, threads, seconds, data, seed=1):
    set_threads(threads)
    x, y = data
    ens = build(impl, depth, dtype, seed)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(WARMUP_STEPS):
        ens.step(x, y, draw_indices(gen))
    # Several windows instead of one, so a burst of foreign load shows up as
    # spread instead of disappearing into the average.
    windows, window_len = [], seconds / 4.0
    steps_total = 0
    with CpuMonitor() as mon:
        t_start = time.perf_counter()
        while True:
            w0, k = time.perf_counter(), 0
            while True:
                ens.step(x, y, draw_indices(gen))
                k += 1
                now = time.perf_counter()
                if now - w0 >= window_len:
                    break
            windows.append(k / (now - w0))
            steps_total += k
            if now - t_start >= seconds:
                break
        elapsed = time.perf_counter() - t_start
    rate = steps_total / elapsed
    assert torch.isfinite(ens.flat()).all(), f"{impl} D={depth}: parameters diverged"
    return {"impl": impl, "depth": depth, "dtype": str(dtype).replace("torch.", ""),
            "threads": threads, "blas_threads": blas_threads(),
            "steps_per_s": rate, "steps": steps_total, "seconds": elapsed,
            "window_min": min(windows), "window_max": max(windows),
            "gflops": rate * step_flops(depth) / 1e9,
            "own_cores": mon.own_cores, "other_cores": mon.other_cores}


def gemm_rate(fn, flops, min_seconds=0.5):
    for _ in range(3):
        fn()
    with CpuMonitor() as mon:
        reps, t0 = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            el = time.perf_counter() - t0
            if el >= min_seconds and reps >= 3:
                break
    return {"gflops": flops * reps / el / 1e9, "other_cores": mon.other_cores}


def gemm_rates(threads_list, dtypes, wait, big=2048):
    """Machine GEMM rate through torch: a large square product (close to
    peak) and the step's own small batched products (what the step can
    actually get)."""
    res = []
    n, b, i, o = N_UNITS, BATCH, IN, HIDDEN
    for threads in threads_list:
        set_threads(threads)
        for dtype in dtypes:
            d = str(dtype).replace("torch.", "")
            a = torch.rand(big, big, dtype=dtype)
            c = torch.rand(big, big, dtype=dtype)
            wait()
            res.append({"shape": f"{big}x{big} @ {big}x{big}", "dtype": d, "threads": threads,
                        **gemm_rate(lambda: torch.mm(a, c), 2 * big ** 3, 1.0)})
            w = torch.rand(n, o, i, dtype=dtype)
            xt = torch.rand(n, i, b, dtype=dtype)
            x = torch.rand(n, b, i, dtype=dtype)
            dz = torch.rand(n, b, o, dtype=dtype)
            f = 2 * n * o * i * b
            for name, fn in (
                (f"{n} x (20x784 @ 784x32) bmm", lambda: torch.bmm(w, xt)),
                (f"{n} x (32x784 @ 784x20) forward, W^T view", lambda: torch.bmm(x, w.transpose(1, 2))),
                (f"{n} x (20x32 @ 32x784) weight grad", lambda: torch.bmm(dz.transpose(1, 2), x)),
            ):
                wait()
                res.append({"shape": name, "dtype": d, "threads": threads, **gemm_rate(fn, f)})
    return res


# --------------------------------------------------------------------------

BUSY = 0.2   # cores used by other processes above which a figure is flagged


def busy_flag(other):
    return f"  <- other processes used {other:.2f} cores" if (other or 0) > BUSY else ""


def parse_list(s, conv=str):
    return [conv(v) for v in s.split(",") if v.strip()]


def main():
    global OPENBLAS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", default="0,1,2", help="hidden layers D, comma-separated")
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per case (>= 2 recommended)")
    ap.add_argument("--threads", default="2,1", help="thread counts, first is the headline one")
    ap.add_argument("--dtypes", default="float32,float64", help="float32 (headline) and/or float64")
    ap.add_argument("--impls", default=",".join(IMPLS), help="subset of " + ",".join(IMPLS))
    ap.add_argument("--json", metavar="FILE", help="write every figure (and each run) to FILE")
    ap.add_argument("--no-check", action="store_true", help="skip the 5-step equivalence check")
    ap.add_argument("--quiet-wait", type=float, default=30.0,
                    help="max seconds to wait for other processes to go idle before each run")
    ap.add_argument("--wait-budget", type=float, default=600.0,
                    help="max seconds of such waiting in total; after that runs are just flagged")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs per case (round-robin); the median is reported")
    ap.add_argument("--retries", type=int, default=1,
                    help="re-runs of a case measured while other processes were busy")
    args = ap.parse_args()
    depths = parse_list(args.depths, int)
    threads_list = parse_list(args.threads, int)
    dtypes = [getattr(torch, d) for d in parse_list(args.dtypes)]
    impls = parse_list(args.impls)
    assert all(i in IMPLS for i in impls), f"impls must be among {IMPLS}"

    t_begin = time.perf_counter()
    waited_total = 0.0

    def wait():
        # Bounded: on a machine that never goes quiet the run still ends, flagged.
        nonlocal waited_total
        w = wait_quiet(max(0.0, min(args.quiet_wait, args.wait_budget - waited_total)))
        waited_total += w
        return w

    OPENBLAS = _openblas_handle()
    binfo = blas_info()
    print(f"torch {torch.__version__}, Python {platform.python_version()} ({sys.executable})")
    print(f"BLAS: {binfo['name']}" + (f" [{binfo.get('config')}, core {binfo.get('corename')}]"
                                      if OPENBLAS is not None else ""))
    print("  mapped: " + ", ".join(binfo["libraries"]))
    if binfo.get("corename") == "Haswell" and "avx512f" in _cpu_flags():
        # OpenBLAS 0.3.21 does not know newer CPUs (e.g. AMD family 26, Zen 5)
        # and falls back to its AVX2 kernels even where AVX-512 is there.
        print("  note: AVX-512 CPU but OpenBLAS picked its Haswell (AVX2) kernels;"
              " OPENBLAS_CORETYPE=SkylakeX selects the AVX-512 ones")
    print(f"load average at start: {os.getloadavg()}")

    checks = []
    if not args.no_check:
        set_threads(threads_list[0])
        checks = check(depths)
        print("\ncorrectness (5 steps, same seed and minibatches; contract = per-unit autograd of the literal loss):")
        for c in checks:
            print(f"  {c['dtype']:8s} D={c['depth']} {c['impl']:17s} max|diff| vs contract {c['max_abs_diff']:.2e},"
                  f" vs loop {c['max_abs_diff_vs_loop']:.2e}  (max|theta| = {c['max_abs_param']:.3f})")

    print("\nFLOPs of one coupled step (GEMM only, N=10, B=32):")
    flops = {}
    for d in depths:
        flops[d] = step_flops(d)
        print(f"  D={d}: {flops[d] / 1e6:7.3f} MFLOP   (P = {param_count(d)} parameters per unit)")

    print("\nGEMM rate through torch:")
    gemms = gemm_rates(threads_list, dtypes, wait)
    for g in gemms:
        print(f"  {g['dtype']:8s} {g['threads']} thr  {g['shape']:44s} {g['gflops']:7.1f} GFLOP/s"
              + busy_flag(g["other_cores"]))

    data = {dt: make_data(dt, 0) for dt in dtypes}
    cases = [(dtype, threads, impl, d) for dtype in dtypes for threads in threads_list
             for impl in impls for d in depths]
    runs = {c: [] for c in cases}
    # Repeats go round-robin over all cases, so a slow spell of the (shared,
    # virtualised) machine hits one repeat of many cases rather than every
    # repeat of one case; the median over repeats is the reported figure.
    for rep in range(args.repeats):
        print(f"\npass {rep + 1}/{args.repeats} ...", flush=True)
        for c in cases:
            dtype, threads, impl, d = c
            r = None
            for attempt in range(1, args.retries + 2):
                waited = wait()
                rr = time_case(impl, d, dtype, threads, args.seconds, data[dtype])
                rr.update(attempt=attempt, quiet_wait_s=round(waited, 1))
                if r is None or (rr["other_cores"] or 0) < (r["other_cores"] or 0):
                    r = rr
                if (r["other_cores"] or 0) <= BUSY:
                    break
            runs[c].append(r)

    results = []
    print(f"\ncoupled steps per second (warm-up {WARMUP_STEPS} steps, >= {args.seconds:g} s timed per run,"
          f" median of {args.repeats} run(s)):")
    print(f"  {'dtype':8s} {'thr':>3s} {'impl':17s} {'D':>2s} {'steps/s':>9s} {'runs min-max':>17s}"
          f" {'GFLOP/s':>8s} {'other CPU':>9s}")
    for c in cases:
        dtype, threads, impl, d = c
        rates = sorted(r["steps_per_s"] for r in runs[c])
        med = statistics.median(rates)
        other = max((r["other_cores"] for r in runs[c] if r["other_cores"] is not None), default=None)
        res = {"impl": impl, "depth": d, "dtype": str(dtype).replace("torch.", ""), "threads": threads,
               "steps_per_s": med, "steps_per_s_min": rates[0], "steps_per_s_max": rates[-1],
               "gflops": med * step_flops(d) / 1e9, "other_cores_max": other, "runs": runs[c]}
        results.append(res)
        print(f"  {res['dtype']:8s} {threads:3d} {impl:17s} {d:2d} {med:9.1f}"
              f" {rates[0]:8.1f}-{rates[-1]:<8.1f} {res['gflops']:8.2f}"
              f" {'n/a' if other is None else f'{other:.2f}':>9s}{busy_flag(other)}")

    # Summary per dtype: every impl at every thread count, and the best
    # PyTorch figure -- the one a comparison should be made against, since at
    # this size more threads can be slower (see set_threads / wait_quiet).
    best_of = {}
    for dtype in dtypes:
        dn = str(dtype).replace("torch.", "")
        cols = [(i, t) for t in threads_list for i in impls]
        print(f"\nsummary {dn}: steps/s")
        print(f"  {'D':>2s} " + " ".join(f"{i + ' ' + str(t) + 't':>19s}" for i, t in cols)
              + "   best PyTorch")
        for d in depths:
            row = {(r["impl"], r["threads"]): r["steps_per_s"] for r in results
                   if r["depth"] == d and r["dtype"] == dn}
            (bi, bt), bv = max(row.items(), key=lambda kv: kv[1])
            best_of[f"{dn}/D{d}"] = {"impl": bi, "threads": bt, "steps_per_s": bv}
            print(f"  {d:2d} " + " ".join(f"{row[c]:19.1f}" for c in cols)
                  + f"   {bv:.1f} ({bi}, {bt} thr)")

    total = time.perf_counter() - t_begin
    print(f"\ntotal wall time {total:.1f} s (of which {waited_total:.0f} s waiting for a quiet machine);"
          f" load average at end: {os.getloadavg()}")

    if args.json:
        doc = {
            "benchmark": "coupled ensemble training step, PyTorch peer",
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join([sys.executable] + sys.argv),
            "torch_version": torch.__version__,
            "python": platform.python_version(),
            "machine": {"cpu": _cpu_model(), "nproc": os.cpu_count(), "platform": platform.platform()},
            "blas": binfo,
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS",
                                                    "OMP_NUM_THREADS", "OMP_WAIT_POLICY")},
            "best": best_of,
            "torch_config": torch.__config__.show(),
            "model": {"units": N_UNITS, "input": IN, "hidden": HIDDEN, "classes": OUT, "batch": BATCH,
                      "tau": TAU, "sigma": SIGMA, "gamma": GAMMA, "samples_per_unit": SAMPLES_PER_UNIT,
                      "warmup_steps": WARMUP_STEPS, "seconds_per_run": args.seconds,
                      "repeats": args.repeats},
            "flops_per_step": {str(d): flops[d] for d in depths},
            "params_per_unit": {str(d): param_count(d) for d in depths},
            "gemm": gemms,
            "check": checks,
            "results": results,
            "total_seconds": total,
            "waited_seconds": waited_total,
        }
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1)
        print(f"wrote {args.json}")


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
