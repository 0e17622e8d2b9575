"""lens through Python against verl's vectorised GRPO and an eager-torch LENS,
same process, same inputs, one thread. Prints a markdown table (median of
repeats, ms) and the ratios; run:

    .venv/bin/python bench/python/bench_advantages.py [--quick]

Sizes: 512x512 up to 16384x4096 tokens, G = 16, shuffled uid strings as verl
passes them. Also: the Python call overhead (a 16x8 batch, int64 ids), and
what turning uid strings into ids costs per call."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(__file__))

import lens  # noqa: E402
from torch_lens import torch_lens  # noqa: E402


def batch(n, t, group=16, seed=0):
    rng = np.random.default_rng(seed)
    uids = np.array([f"{k:032x}" for k in rng.permutation(n // group)], dtype=object)
    uid = np.repeat(uids, group)[rng.permutation(n)]
    lengths = rng.integers(1, t + 1, size=n)
    mask = torch.from_numpy((np.arange(t)[None, :] < lengths[:, None]).astype(np.int64))
    rewards = torch.zeros(n, t)
    rewards[torch.arange(n), torch.from_numpy(lengths - 1)] = torch.from_numpy((rng.random(n) < 0.3).astype(np.float32))
    logp = -torch.from_numpy(rng.exponential(0.5, size=(n, t)).astype(np.float32))
    return rewards, mask, uid, logp


def timed(fn, repeats):
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from verl.trainer.ppo.core_algos import compute_grpo_vectorized_outcome_advantage
    from verl.utils.groupwise import as_torch_index

    sizes = [(512, 512), (1024, 1024), (4096, 1024), (4096, 4096), (16384, 4096)]
    if args.quick:
        sizes = sizes[:3]
    print(f"lens {lens.__version__}, torch {torch.__version__}, one thread; median ms")
    print()
    print("| N x T | lens GRPO | verl vectorised GRPO | lens faster by | lens GRPO, out= reused | lens LENS "
          "| torch LENS | lens faster by | uid -> ids |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, t in sizes:
        rewards, mask, uid, logp = batch(n, t)
        repeats = 5 if n * t >= 1 << 24 else 15
        grpo = lens.presets.verl_grpo()
        t_lens_grpo = timed(lambda: lens.compute_advantages(rewards, mask, uid, settings=grpo), repeats)
        t_verl = timed(lambda: compute_grpo_vectorized_outcome_advantage(rewards, mask, uid), repeats)
        # The same call into outputs allocated once (out=, what a trainer that
        # keeps its advantage buffers pays): fresh [N, T] outputs cost a page
        # fault per 4 KiB on either side.
        out = (torch.empty(n), torch.empty(n, t))
        t_core = timed(lambda: lens.compute_advantages(rewards, mask, uid, settings=grpo, out=out), repeats)
        t_lens = timed(lambda: lens.compute_advantages(rewards, mask, uid, logp), repeats)
        t_torch_lens = timed(lambda: torch_lens(rewards, mask, as_torch_index(uid, device="cpu"), logp), repeats)
        t_ids = timed(lambda: lens.advantages.index_to_ids(uid), repeats)
        print(f"| {n} x {t} | {t_lens_grpo * 1e3:.3f} | {t_verl * 1e3:.3f} | {t_verl / t_lens_grpo:.1f}x "
              f"| {t_core * 1e3:.3f} | {t_lens * 1e3:.3f} | {t_torch_lens * 1e3:.3f} | {t_torch_lens / t_lens:.1f}x | {t_ids * 1e3:.3f} |")

    # Call overhead: a tiny batch with int64 ids, against the C++ core called
    # directly on preallocated outputs (what the C++ part alone costs).
    rewards, mask, _, logp = batch(16, 8, group=4)
    ids = torch.arange(16) // 4
    settings = lens.presets.lens()
    t_call = timed(lambda: lens.compute_advantages(rewards, mask, ids, logp, settings=settings), 2000)
    native = lens.settings.native(settings)
    out, tok = torch.empty(16), torch.empty(16, 8)
    t_core = timed(lambda: lens._lens.token_advantages(rewards, None, mask, logp, ids, None, 0, out, tok, native, False),
                   2000)
    print()
    print(f"Python call (16 x 8, int64 ids): {t_call * 1e6:.1f} us; the C++ core through the binding alone: "
          f"{t_core * 1e6:.1f} us; Python overhead {(t_call - t_core) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
