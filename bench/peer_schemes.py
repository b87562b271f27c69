#!/usr/bin/python3
"""Independent PyTorch peer of `cdl micro --scheme`: every exchange scheme, written from the papers.

Set-up (the preset configs/micro-schemes.ini): N = 10 ReLU networks 784 -> 20 -> 10 with biases,
PyTorch's default Linear initialisation (uniform +-1/sqrt(fan_in), cdl's `fanin`), unit i trains
only on digit i (every training image of that class) and is tested on the whole test set (pixels
/255). Per unit, loss L_i = mean softmax cross-entropy over a minibatch of 32 + (gamma/2)|theta|^2,
gradient g_i; every unit reshuffles its own samples each epoch and takes consecutive batches,
dropping the incomplete last one. tau = lr = 0.02, gamma = 0.001, float32, 1500 transient +
1500 measured steps per coupling sigma, each coupling from the same initial state
(cdl's non-adiabatic protocol); test accuracy recorded every 100 steps.

Schemes (sigma the coupling, m the units' mean before the step):
  diffusion   theta_i += -tau g_i + tau sigma (m - theta_i)                     (complete graph)
  dsgd        theta <- (1 - tau sigma) theta + tau sigma W theta - tau g, W the Metropolis-
              Hastings matrix of the graph (Lian et al. 2017, Alg. 1 with lazy mixing)
  fedavg:K:C  local SGD; after every K-th step round(C N) units drawn without replacement move
              towards their mean weighted by n_k / sum n_k, by min(1, K tau sigma)  (McMahan 2017)
  easgd       x_i <- x_i - tau (g_i + sigma (x_i - c)), c <- c + tau sigma sum_i (x_i - c), both
              from the pre-step values, c(0) = mean of the units (Zhang et al. 2015, eqs. 5-6)
  gossip      local SGD, then a random maximal matching (units in random order, each free one
              paired with a uniformly drawn free neighbour) and every pair averages by
              alpha = min(1/2, tau sigma 2|E|/N^2)                              (Boyd et al. 2006)
Observables: `accuracy` = mean over units of their test accuracy, `accuracy_mean_model` = test
accuracy of the network with the units' mean parameters, `accuracy_center` = easgd's centre.
Each is reported as cdl stores it -- the average over the records in the measured window
(steps 1600, 1700, ..., 3000) -- and at the last record (step 3000), per seed; seeds give
independent initialisations, batch orders and scheme draws (common to all sigma of a seed).

Reproduce (Debian 12, /usr/bin/python3 with python3-torch, numpy, h5py; from the repository
root; the digits in IDX format in /tmp/mnist, e.g. from scripts/fetch_mnist.sh):
  mkdir -p /tmp/peer
  S="0,1,2,5,20,50"; E="0,1,2,5,8"    # couplings; easgd only below N tau sigma = 2 (sigma < 10)
  for s in diffusion dsgd fedavg:10 fedavg:10:0.5 gossip easgd; do
    g=$S; [ $s = easgd ] && g=$E
    build/cdl micro --config configs/micro-schemes.ini --data idx:/tmp/mnist:10 --scheme $s \\
      --sigma $g --runs 5 --threads 1 --quiet --overwrite --output /tmp/peer/cdl-${s//:/_}.h5
  done                                # cdl: about 3 min on one core
  /usr/bin/python3 bench/peer_schemes.py --data /tmp/mnist --seeds 5 --jobs 1 \\
      --sigmas $S --easgd-sigmas $E --json /tmp/peer/peer.json --cdl /tmp/peer
                                      # peer: about 21 s per coupling and seed, 63 min on one core
  /usr/bin/python3 bench/peer_schemes.py --load /tmp/peer/peer.json --cdl /tmp/peer  # table only
"""
import argparse
import datetime
import glob
import json
import math
import multiprocessing
import os
import platform
import struct
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")        # one thread per process (--jobs)
import numpy as np  # noqa: E402  (after the environment is set)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

N_UNITS, WIDTH, CLASSES, BATCH = 10, 20, 10, 32
TAU, GAMMA = 0.02, 0.001
METRICS = ("accuracy", "accuracy_mean_model", "accuracy_center")
# Diagnostics, as cdl defines them: mean distance between two units' parameter vectors, mean
# |theta_i|, and the units' mean cross-entropy on all their own training data.
DIAGNOSTICS = ("consensus", "parameter_norm", "loss")


# ------------------------------------------------------------------------------------------------
# Data: the IDX files, every training image of class i for unit i, every test image for testing
# ------------------------------------------------------------------------------------------------

def read_idx(path):
    """An IDX file (magic 0x08 = unsigned bytes, then big-endian dimension sizes) as a uint8 array."""
    with open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_digits(directory):
    """Training and test images as float32 in [0, 1] (byte / 255), flattened, with labels."""
    def part(prefix):
        images = read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte"))
        x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / np.float32(255))
        return x, torch.from_numpy(labels.astype(np.int64))
    return part("train") + part("t10k")


# ------------------------------------------------------------------------------------------------
# The ensemble: all N networks' parameters as the rows of one flat float32 tensor theta (N, P)
# ------------------------------------------------------------------------------------------------

SHAPES = [("w1", (784, WIDTH)), ("b1", (WIDTH,)), ("w2", (WIDTH, CLASSES)), ("b2", (CLASSES,))]
P = sum(math.prod(s) for _, s in SHAPES)


def unpack(theta):
    """Views of the flat parameters (N, P) as per-layer tensors (N, ...): weights stored in x out."""
    views, k = {}, 0
    for name, shape in SHAPES:
        size = math.prod(shape)
        views[name] = theta[:, k:k + size].reshape(theta.shape[0], *shape)
        k += size
    return views


def forward(theta, x):
    """Logits of every network; x is (N, B, 784) (each its own batch) or (T, 784) (shared)."""
    p = unpack(theta)
    hidden = torch.relu(torch.matmul(x, p["w1"]) + p["b1"][:, None, :])
    return torch.matmul(hidden, p["w2"]) + p["b2"][:, None, :]


def initial_parameters(n):
    """n networks built as nn.Linear layers (PyTorch's default init), flattened to rows."""
    rows = []
    for _ in range(n):
        first, second = nn.Linear(784, WIDTH), nn.Linear(WIDTH, CLASSES)
        rows.append(torch.cat([first.weight.detach().t().reshape(-1), first.bias.detach(),
                               second.weight.detach().t().reshape(-1), second.bias.detach()]))
    return torch.stack(rows)


def gradients(theta, x, y):
    """g_i = grad of (mean cross-entropy over unit i's batch + (gamma/2)|theta_i|^2), all i."""
    theta = theta.detach().requires_grad_(True)
    logits = forward(theta, x)                                  # (N, B, classes)
    # Summing the units' mean losses: unit i's parameters only see unit i's term.
    loss = F.cross_entropy(logits.reshape(-1, CLASSES), y.reshape(-1), reduction="sum") / BATCH
    (grad,) = torch.autograd.grad(loss, theta)
    return grad + GAMMA * theta.detach()


def accuracy(theta, x, y):
    """Test accuracy of each row of theta (argmax; ties -> the lower class, as torch.argmax)."""
    with torch.no_grad():
        return (forward(theta, x).argmax(-1) == y).float().mean(-1)


def batch_schedule(unit_samples, steps, rng):
    """(steps, N, BATCH) sample indices: each unit reshuffles its samples every epoch and takes
    consecutive batches of BATCH, dropping the incomplete last one."""
    schedule = np.empty((steps, len(unit_samples), BATCH), np.int64)
    for i, samples in enumerate(unit_samples):
        per_epoch, rows = len(samples) // BATCH, []
        while len(rows) * per_epoch < steps:
            perm = samples[rng.permutation(len(samples))][:per_epoch * BATCH]
            rows.append(perm.reshape(per_epoch, BATCH))
        schedule[:, i] = np.concatenate(rows)[:steps]
    return schedule


# ------------------------------------------------------------------------------------------------
# The schemes
# ------------------------------------------------------------------------------------------------

def parse_scheme(text):
    """'fedavg:K[:C]' -> ('fedavg', K, C); other names -> (name, None, None)."""
    fields = text.split(":")
    if fields[0] == "fedavg" and 2 <= len(fields) <= 3:
        return "fedavg", int(fields[1]), float(fields[2]) if len(fields) == 3 else 1.0
    if fields[0] not in ("diffusion", "dsgd", "easgd", "gossip") or len(fields) > 1:
        raise ValueError(f"unknown scheme {text}")
    return fields[0], None, None


def canonical(text):
    """One spelling per scheme, to match cdl's files ('fedavg:10' is stored as 'fedavg:10:1')."""
    name, k_rounds, fraction = parse_scheme(text)
    return f"fedavg:{k_rounds}:{fraction:g}" if name == "fedavg" else name


def metropolis_hastings(adjacency):
    """W_ij = 1 / (1 + max(d_i, d_j)) on edges, W_ii = 1 - sum_j W_ij (doubly stochastic)."""
    degree = adjacency.sum(1)
    w = adjacency / (1.0 + np.maximum(degree[:, None], degree[None, :]))
    return w + np.diag(1.0 - w.sum(1))


def random_maximal_matching(adjacency, rng):
    """Units in random order; each still free one pairs with a uniformly drawn free neighbour."""
    free, pairs = np.ones(len(adjacency), bool), []
    for i in rng.permutation(len(adjacency)):
        if not free[i]:
            continue
        candidates = np.flatnonzero(adjacency[i] & free)
        if len(candidates):
            j = rng.choice(candidates)
            free[i] = free[j] = False
            pairs.append((i, j))
    return pairs


def run_point(scheme, sigma, theta0, schedule, data, unit_samples, rng, transient, measured,
              every):
    """One coupling from theta0: the test accuracies at every record of the measured window."""
    x_train, y_train, x_test, y_test = data
    name, k_rounds, fraction = parse_scheme(scheme)
    n = theta0.shape[0]
    counts = torch.tensor([len(own) for own in unit_samples], dtype=torch.float64)
    adjacency = ~np.eye(n, dtype=bool)                          # the complete graph
    mixing = torch.tensor(metropolis_hastings(adjacency.astype(np.float64)), dtype=torch.float32)
    alpha_gossip = min(0.5, TAU * sigma * adjacency.sum() / n ** 2)   # sum A = 2|E|
    theta = theta0.clone()
    centre = theta0.mean(0, keepdim=True)                       # easgd: c(0) = mean of the units
    records = {m: [] for m in METRICS + DIAGNOSTICS}
    for step in range(1, transient + measured + 1):
        idx = torch.from_numpy(schedule[step - 1])
        g = gradients(theta, x_train[idx], y_train[idx])
        if name == "diffusion":
            theta = theta - TAU * g + TAU * sigma * (theta.mean(0, keepdim=True) - theta)
        elif name == "dsgd":
            theta = (1 - TAU * sigma) * theta + TAU * sigma * (mixing @ theta) - TAU * g
        elif name == "easgd":
            theta, centre = (theta - TAU * (g + sigma * (theta - centre)),
                             centre + TAU * sigma * (theta - centre).sum(0, keepdim=True))
        else:                                                   # local step, then the exchange
            theta = theta - TAU * g
            if name == "fedavg" and step % k_rounds == 0 and sigma > 0:
                chosen = torch.from_numpy(np.sort(
                    rng.choice(n, max(1, int(math.floor(fraction * n + 0.5))), replace=False)))
                weights = (counts[chosen] / counts[chosen].sum()).float()
                mean = (weights[:, None] * theta[chosen]).sum(0, keepdim=True)
                theta[chosen] += min(1.0, k_rounds * TAU * sigma) * (mean - theta[chosen])
            elif name == "gossip" and sigma > 0:
                for i, j in random_maximal_matching(adjacency, rng):
                    diff = theta[j] - theta[i]
                    theta[i] += alpha_gossip * diff
                    theta[j] -= alpha_gossip * diff
        if step > transient and step % every == 0:
            records["accuracy"].append(accuracy(theta, x_test, y_test).mean().item())
            records["accuracy_mean_model"].append(
                accuracy(theta.mean(0, keepdim=True), x_test, y_test).item())
            records["accuracy_center"].append(
                accuracy(centre, x_test, y_test).item() if name == "easgd" else float("nan"))
            records["consensus"].append(torch.pdist(theta).mean().item())
            records["parameter_norm"].append(theta.norm(dim=1).mean().item())
            with torch.no_grad():
                records["loss"].append(float(np.mean([
                    F.cross_entropy(forward(theta[i:i + 1], x_train[own])[0], y_train[own]).item()
                    for i, own in enumerate(unit_samples)])))
    return records


_DATA = {}


def run_seed(job):
    """Every coupling of one (scheme, seed): the same initial state and batches for each sigma."""
    scheme, seed, sigmas, args = job
    torch.set_num_threads(1)
    if "data" not in _DATA:
        _DATA["data"] = load_digits(args["data"])
    data = _DATA["data"]
    y_train = data[1].numpy()
    unit_samples = [np.flatnonzero(y_train == i % CLASSES) for i in range(N_UNITS)]
    torch.manual_seed(seed)
    theta0 = initial_parameters(N_UNITS)
    steps = args["transient"] + args["measured"]
    schedule = batch_schedule(unit_samples, steps, np.random.default_rng([seed, 1]))
    out, start = {}, time.time()
    for sigma in sigmas:
        rng = np.random.default_rng([seed, 2])                  # fedavg subsets, gossip matchings
        out[repr(sigma)] = run_point(scheme, sigma, theta0, schedule, data, unit_samples, rng,
                                     args["transient"], args["measured"], args["every"])
    print(f"  {scheme} seed {seed}: {len(sigmas)} couplings in {time.time() - start:.1f} s",
          flush=True)
    return scheme, seed, out


# ------------------------------------------------------------------------------------------------
# Statistics and the side-by-side table
# ------------------------------------------------------------------------------------------------

def mean_se(values):
    """Mean and standard error over seeds (NaN-free values only; (nan, nan) if none)."""
    v = np.asarray([x for x in values if not math.isnan(x)], np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0


def summarise(results):
    """results[scheme][sigma][seed] = records -> per (scheme, sigma, metric, statistic) mean, se."""
    summary = {}
    for scheme, by_sigma in results.items():
        for sigma, by_seed in by_sigma.items():
            for metric in METRICS + DIAGNOSTICS:
                for stat, pick in (("window", np.mean), ("final", lambda r: r[-1])):
                    vals = [float(pick(rec[metric])) for rec in by_seed.values()]
                    m, se = mean_se(vals)
                    summary.setdefault(scheme, {}).setdefault(sigma, {})[f"{metric}/{stat}"] = \
                        {"mean": m, "se": se, "n": len(vals)}
    return summary


# The preset's settings the peer hard-codes; a cdl file with others is not comparable.
PRESET = {"units": "10", "depths": "1", "width": "20", "activation": "relu", "bias": "true",
          "loss": "xent", "lr": "0.02", "gamma": "0.001", "batch": "32", "weights": "fanin",
          "task": "classes", "partition": "classes", "topology": "complete",
          "precision": "float32", "protocols": "nonadiabatic", "dropout": "0",
          "link-failure": "0", "crash": "none"}


def read_cdl(path, transient, measured, every):
    """cdl output files (a file or every *.h5 in a directory) -> the same summary layout."""
    import h5py
    files = sorted(glob.glob(os.path.join(path, "*.h5"))) if os.path.isdir(path) else [path]
    expected = dict(PRESET, **{"transient-steps": str(transient), "measure-steps": str(measured),
                               "record-every": str(every)})
    summary, source = {}, {}
    for name in files:
        with h5py.File(name, "r") as f:
            if f.attrs.get("subcommand") != "micro":
                continue
            config = dict(line.split(" = ", 1) for line in f.attrs["config"].splitlines()
                          if " = " in line)
            other = {k: config.get(k) for k, v in expected.items() if config.get(k) != v}
            if other:
                raise ValueError(f"{name}: not the peer's set-up: {other}")
            scheme = canonical(config["scheme"])
            g = f["nonadiabatic"]
            for s, sigma in enumerate(g["sigma"][...]):
                key = (scheme, repr(float(sigma)))
                if key in source:
                    raise ValueError(f"{name} and {source[key]} both hold {key}")
                source[key] = name
                for metric in METRICS + DIAGNOSTICS:
                    window = g[metric][0, :, s]                 # [depth, run, sigma], D = 1
                    final = g[metric + "_trace"][0, :, s, -1]
                    for stat, vals in (("window", window), ("final", final)):
                        m, se = mean_se(vals)
                        summary.setdefault(scheme, {}).setdefault(key[1], {})[
                            f"{metric}/{stat}"] = {"mean": m, "se": se, "n": len(vals)}
    return summary


def table(peer, cdl, stat, metrics=METRICS):
    """Markdown rows: per (scheme, sigma, metric) cdl and peer mean +- se and the z-score."""
    rows = ["| scheme | σ | observable | cdl | peer | Δ / combined s.e. | agree (≤ 2) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    flagged = 0
    for scheme in peer:
        for sigma in sorted(peer[scheme], key=float):
            for metric in metrics:
                p = peer[scheme][sigma].get(f"{metric}/{stat}")
                if p is None:                                   # an older --json
                    continue
                c = cdl.get(canonical(scheme), {}).get(sigma, {}).get(f"{metric}/{stat}")
                if c is None or math.isnan(p["mean"]) and math.isnan(c["mean"]):
                    continue
                se = math.hypot(p["se"], c["se"])
                delta = p["mean"] - c["mean"]
                # Both exact (chance at sigma <= 1: 0.1 to float32 rounding) -> z = 0.
                z = 0.0 if abs(delta) < 1e-6 else delta / se if se > 0 else math.inf
                ok = abs(z) <= 2
                flagged += not ok
                f = ".4f" if metric.startswith("accuracy") else ".4g"
                rows.append(f"| {scheme} | {float(sigma):g} | {metric.replace('accuracy', 'acc')} "
                            f"| {c['mean']:{f}} ± {c['se']:{f}} | {p['mean']:{f}} ± {p['se']:{f}} "
                            f"| {z:+.2f} | {'yes' if ok else '**no**'} |")
    rows.append(f"\n{len(rows) - 2} comparisons ({stat}), {flagged} beyond 2 combined s.e.")
    return "\n".join(rows)


def blas_libraries():
    """The BLAS shared objects really mapped into this process (torch takes libblas.so.3)."""
    with open("/proc/self/maps") as f:
        return sorted({line.split()[-1] for line in f if "blas" in line.split()[-1]})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/mnist", help="directory of the IDX files")
    ap.add_argument("--schemes", default="diffusion,dsgd,fedavg:10,fedavg:10:0.5,gossip,easgd")
    ap.add_argument("--sigmas", default="0,1,2,5,20,50")
    ap.add_argument("--easgd-sigmas", default="0,1,2,5,8", help="easgd: stable for sigma < 2/(N tau)")
    ap.add_argument("--seeds", type=int, default=5, help="independent realizations (seeds 1..S)")
    ap.add_argument("--steps", default="1500,1500", help="transient,measured steps per coupling")
    ap.add_argument("--record-every", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2, help="processes, one thread each")
    ap.add_argument("--json", help="write the per-seed records and the summary here")
    ap.add_argument("--load", help="read a previous --json instead of running")
    ap.add_argument("--cdl", help="a cdl micro output file, or a directory of them: print the table")
    args = ap.parse_args()

    if args.load:
        with open(args.load) as f:
            saved = json.load(f)
    else:
        transient, measured = (int(s) for s in args.steps.split(","))
        common = {"data": args.data, "transient": transient, "measured": measured,
                  "every": args.record_every}
        jobs = []
        for scheme in args.schemes.split(","):
            grid = args.easgd_sigmas if parse_scheme(scheme)[0] == "easgd" else args.sigmas
            sigmas = [float(s) for s in grid.split(",")]
            jobs += [(scheme, seed, sigmas, common) for seed in range(1, args.seeds + 1)]
        start = time.time()
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            done = pool.map(run_seed, jobs, chunksize=1)
        results = {}
        for scheme, seed, out in done:
            for sigma, records in out.items():
                results.setdefault(scheme, {}).setdefault(sigma, {})[str(seed)] = records
        saved = {"date": datetime.date.today().isoformat(), "seconds": time.time() - start,
                 "torch": torch.__version__, "numpy": np.__version__,
                 "python": platform.python_version(), "blas": blas_libraries(),
                 "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "args": vars(args),
                 "results": results, "summary": summarise(results)}
        print(f"peer: {len(jobs)} (scheme, seed) jobs in {saved['seconds']:.0f} s "
              f"on {args.jobs} processes")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(saved, f, indent=1)
    if args.cdl:
        steps = [int(s) for s in saved["args"]["steps"].split(",")]
        cdl = read_cdl(args.cdl, *steps, saved["args"]["record_every"])
        for stat in ("window", "final"):
            print(f"\n### {stat}: " + ("mean over the measured window's records (cdl's stored "
                                       "observable)" if stat == "window" else "at the last step"))
            print(table(saved["summary"], cdl, stat))
        print("\n### diagnostics (measured-window means; not part of the accuracy comparison)")
        print(table(saved["summary"], cdl, "window", DIAGNOSTICS))


if __name__ == "__main__":
    main()
