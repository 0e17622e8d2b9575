"""lens.distributed against gathering every sample: bytes and time per call.

    python bench/python/bench_distributed.py [--worlds 2 4] [--samples 65536 ...] [--groups 4096]
                                             [--figure docs/distributed.png]

Spawns W Gloo processes over loopback (127.0.0.1) for each world size W. Each
rank holds N / W samples of a batch of N samples in a fixed number of groups,
every group spread over every rank (samples dealt at random: the worst case
for lens, each rank sends a partial of every group). Two ways to get each
rank's token advantages [N / W, T] right:

  lens     lens.distributed.compute_advantages(scores=..., response_mask, ids, old_log_probs)
  gather   what trainers do today: reduce the rank's rows to per-sample values
           (score, and for LENS the masked log-prob sum and length), all_gather
           them with the ids from every rank, run lens.compute_sequence_advantages
           on the whole batch, keep the rank's slice, broadcast over its tokens.

Reported per call: bytes each rank sends into all_gather (it receives W times
as much), the number of collectives, and the median wall time over the
repetitions (the slowest rank's, each call started after a barrier; the two
methods alternate call by call). Both are measured in the same run on the
same processes; ratios are what to read, the
absolute times depend on the machine (ours is shared, 2 cores, so 4 processes
time-share them).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np


def worker(rank: int, world: int, port: int, config: dict, out_path: str) -> None:
    import datetime

    import torch
    import torch.distributed as dist

    import lens
    import lens.distributed

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))
    counter = {"bytes": 0, "calls": 0}
    original = dist.all_gather

    def counting_all_gather(tensors, tensor, group=None, async_op=False):
        counter["bytes"] += tensor.numel() * tensor.element_size()
        counter["calls"] += 1
        return original(tensors, tensor, group=group, async_op=async_op)

    dist.all_gather = counting_all_gather
    t_columns = config["tokens"]
    results = []
    for n in config["samples"]:
        local = n // world
        rng = np.random.default_rng(1000 + rank)  # each rank its own samples, ids shared by construction
        groups = config["groups"]
        ids = torch.from_numpy(rng.integers(0, groups, size=local).astype(np.int64) * 7919 + 13)
        p = rng.choice([0.0, 0.3, 0.7], size=groups)
        scores = torch.from_numpy((rng.random(local) < p[(ids.numpy() - 13) // 7919]).astype(np.float32))
        lengths = rng.integers(1, t_columns + 1, size=local)
        mask = torch.from_numpy((np.arange(t_columns)[None, :] < lengths[:, None]).astype(np.uint8))
        logp = torch.from_numpy(-rng.exponential(0.7, size=(local, t_columns)).astype(np.float32))

        def run_lens(kind):
            return lens.distributed.compute_advantages(scores=scores, response_mask=mask, index=ids,
                                                       old_log_probs=logp, kind=kind).token_advantages

        def run_gather(kind):
            is_lens = kind == "lens"
            cols = [scores.double()]
            if is_lens:
                cols += [(logp.double() * mask).sum(dim=1), mask.sum(dim=1).double()]
            mine = torch.stack(cols, dim=1).to(torch.float32)  # what a trainer gathers: float32 values
            values = [torch.empty_like(mine) for _ in range(world)]
            dist.all_gather(values, mine)
            all_ids = [torch.empty_like(ids) for _ in range(world)]
            dist.all_gather(all_ids, ids)
            values = torch.cat(values)
            args = dict(scores=values[:, 0].contiguous(), index=torch.cat(all_ids), kind=kind)
            if is_lens:
                args.update(logprob_sums=values[:, 1].contiguous(), response_lengths=values[:, 2].to(torch.int64))
            adv = lens.compute_sequence_advantages(**args).advantages[rank * local:(rank + 1) * local]
            return adv[:, None] * mask

        for kind in config["kinds"]:
            methods = (("lens", run_lens), ("gather", run_gather))
            for _, run in methods:
                for _ in range(2):  # warm-up; settles lens's buffer size
                    run(kind)
            times = {m: [] for m, _ in methods}
            sent = {m: [0, 0] for m, _ in methods}
            # The two methods alternate call by call, so both see the same load on a shared machine.
            for _ in range(config["repeats"]):
                for method, run in methods:
                    counter.update(bytes=0, calls=0)
                    dist.barrier()
                    start = time.perf_counter()
                    run(kind)
                    elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
                    sent[method] = [counter["bytes"], counter["calls"]]
                    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
                    times[method].append(float(elapsed))
            for method, _ in methods:
                results.append(dict(world=world, samples=n, groups=groups, kind=kind, method=method,
                                    bytes_sent=sent[method][0], collectives=sent[method][1],
                                    median_ms=1e3 * float(np.median(times[method]))))
    dist.destroy_process_group()
    if rank == 0:
        with open(out_path, "w") as f:
            json.dump(results, f)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_world(world: int, config: dict, timeout: float) -> list[dict]:
    folder = tempfile.mkdtemp(prefix="lens-bench-dist-")
    out = os.path.join(folder, "results.json")
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if sys.platform.startswith("linux"):  # loopback only: Gloo would otherwise pick the host name's interface
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", str(r), str(world), str(port),
                               json.dumps(config), out], env=env) for r in range(world)]
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    if any(p.returncode != 0 for p in procs):
        raise SystemExit(f"world {world}: a worker failed ({[p.returncode for p in procs]})")
    with open(out) as f:
        return json.load(f)


def plot(rows: list[dict], path: str) -> None:
    folder = tempfile.mkdtemp(prefix="lens-bench-plot-")
    series = {}
    for r in rows:
        series.setdefault((r["world"], r["kind"], r["method"]), []).append(r)
    files = []
    for (world, kind, method), rs in sorted(series.items()):
        name = os.path.join(folder, f"{world}_{kind}_{method}.dat")
        with open(name, "w") as f:
            for r in sorted(rs, key=lambda r: r["samples"]):
                f.write(f"{r['samples']} {r['bytes_sent']} {r['median_ms']}\n")
        files.append((name, f"{method} {kind.upper()}, {world} ranks", method, world))
    groups = rows[0]["groups"]

    def curves(column):
        out = []
        for name, title, method, world in files:
            style = "lw 2" if method == "lens" else "dt 2 lw 2"
            point = 7 if world == 2 else 5
            out.append(f"'{name}' using 1:{column} with linespoints {style} pt {point} title '{title}'")
        return ", ".join(out)

    script = f"""
set terminal pngcairo size 1200,480 font ',10' noenhanced
set output '{path}'
set multiplot layout 1,2 title 'lens.distributed vs all_gather of every sample ({groups} groups, Gloo over loopback)'
set logscale xy
set xlabel 'samples in the batch (N)'
set key top left font ',8'
set grid
set ylabel 'bytes each rank sends per call'
plot {curves(2)}
set ylabel 'median time per call (ms, slowest rank)'
plot {curves(3)}
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--samples", type=int, nargs="+", default=[1 << 16, 1 << 18, 1 << 20, 1 << 22])
    parser.add_argument("--groups", type=int, default=4096)
    parser.add_argument("--tokens", type=int, default=8, help="T, the columns of the mask")
    parser.add_argument("--kinds", nargs="+", default=["grpo", "lens"])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--figure", default=None, help="write a PNG (gnuplot) here")
    parser.add_argument("--json", default=None, help="write the rows here")
    parser.add_argument("--from-json", default=None, help="print and plot the rows of an earlier --json, run nothing")
    args = parser.parse_args()
    config = dict(samples=args.samples, groups=args.groups, tokens=args.tokens, kinds=args.kinds,
                  repeats=args.repeats)
    rows = []
    if args.from_json:
        with open(args.from_json) as f:
            rows = json.load(f)
        args.worlds = sorted({r["world"] for r in rows})
        args.samples = sorted({r["samples"] for r in rows})
        args.kinds = list(dict.fromkeys(r["kind"] for r in rows))
    for world in [] if args.from_json else args.worlds:
        rows += run_world(world, config, args.timeout)
    print("| ranks | N | estimator | lens bytes/rank | gather bytes/rank | lens ms | gather ms | gather / lens time |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for world in args.worlds:
        for n in args.samples:
            for kind in args.kinds:
                lens_row = next(r for r in rows if (r["world"], r["samples"], r["kind"], r["method"]) ==
                                (world, n, kind, "lens"))
                gather = next(r for r in rows if (r["world"], r["samples"], r["kind"], r["method"]) ==
                              (world, n, kind, "gather"))
                print(f"| {world} | {n} | {kind} | {lens_row['bytes_sent']} ({lens_row['collectives']} coll.) | "
                      f"{gather['bytes_sent']} ({gather['collectives']} coll.) | {lens_row['median_ms']:.2f} | "
                      f"{gather['median_ms']:.2f} | {gather['median_ms'] / lens_row['median_ms']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.figure:
        plot(rows, args.figure)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]), sys.argv[6])
    else:
        main()
