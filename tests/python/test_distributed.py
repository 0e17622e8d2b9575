"""lens.distributed across real processes: torch.distributed on Gloo over
loopback with 2, 3 and 4 ranks, spawned here (bounded by timeouts, each rank
a subprocess running this file as a worker), against the single-process
lens.compute_advantages on the concatenated batch (rank 0's samples, then
rank 1's, ...).

What is bitwise and what is not: a group whose samples all live on one rank
is merged with empty partials only (the identity), so its statistics, and
the advantages of its samples, are bit for bit the single-process ones. A
group split over ranks has its mean, M2 and (LENS) log-sum-exp combined by
Chan's rule instead of Welford's sample-by-sample update: the same values
up to rounding. Its advantages are within 1e-12 relative in float64 and
within one float32 ulp (1.2e-7 relative) in float32; counts, num_correct,
min and max merge exactly, so zero-variance and negative groups are exact.
The batch std of grpo_batch_std mixes every group, so with any split group
all of its advantages are within rounding; without one, bitwise.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import lens
from conftest import make_batch

WORLDS = (2, 3, 4)
TIMEOUT_S = 240  # the whole spawn of one world; a hang fails the test, it does not block the suite

SETTINGS = {
    "verl_grpo": lens.presets.verl_grpo(),
    "trl_grpo": lens.presets.trl_grpo(),
    "openrlhf_grpo": lens.presets.openrlhf_grpo(),
    "dr_grpo": lens.presets.dr_grpo(),
    "rloo": lens.presets.rloo(),
    "trl_grpo_batch_std": lens.presets.trl_grpo_batch_std(),
    "lens": lens.presets.lens(),
    "lens_negative_groups": dataclasses.replace(lens.presets.lens(), scope="negative_groups"),
    "lens_mixed_groups": dataclasses.replace(lens.presets.lens(), scope="mixed_groups"),
    "lens_geometric_zero": dataclasses.replace(lens.presets.lens(), difficulty_source="geometric_mean",
                                               singleton="zero"),
}


# ---------------------------------------------------------------- building the cases (parent)

def deal(rng: np.random.Generator, uid: np.ndarray, world: int, empty_rank: int) -> list[np.ndarray]:
    """Each group either wholly on one rank or its samples spread over random
    ranks (the first group whole, the second spread); rank empty_rank gets
    nothing (none if empty_rank >= world). Returns each rank's sample indices,
    in batch order."""
    ranks = [r for r in range(world) if r != empty_rank] or [0]
    keys = list(dict.fromkeys(uid.tolist()))
    mode = {k: (0 if j == 0 else 1 if j == 1 else int(rng.integers(2))) for j, k in enumerate(keys)}
    home = {k: int(rng.choice(ranks)) for k in keys}
    owner = np.array([home[k] if mode[k] == 0 else int(rng.choice(ranks)) for k in uid.tolist()])
    return [np.nonzero(owner == r)[0] for r in range(world)]


def split_flags(uid: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
    """For the concatenated batch: whether each sample's group spans ranks."""
    where: dict = {}
    for r, p in enumerate(parts):
        for k in uid[p].tolist():
            where.setdefault(k, set()).add(r)
    order = np.concatenate(parts)
    return np.array([len(where[k]) > 1 for k in uid[order].tolist()], dtype=bool)


def rank_args(batch, p: np.ndarray, dtype: torch.dtype, per_sample: bool, mask_bool: bool) -> dict:
    rewards = batch.token_level_rewards[p].to(dtype)
    mask = batch.response_mask[p]
    args = dict(response_mask=mask.bool() if mask_bool else mask, index=batch.uid[p],
                old_log_probs=batch.old_log_probs[p].to(dtype))
    if per_sample:
        args["scores"] = rewards.sum(dim=1)
    else:
        args["token_level_rewards"] = rewards
    return args


def make_cases(world: int, seed: int, errors: bool = True):
    """Per-rank call lists (the same length on every rank) and what the parent
    checks each call against."""
    rng = np.random.default_rng(seed)
    calls = [[] for _ in range(world)]
    checks = []
    layouts = [  # (empty rank, dtype, per-sample scores, bool mask)
        (world - 1, torch.float32, False, False),
        (0, torch.float64, False, True),
        (world, torch.float64, True, False),
        (world, torch.float32, False, False),
    ]
    for b, (empty_rank, dtype, per_sample, mask_bool) in enumerate(layouts):
        batch = make_batch(rng, num_groups=int(rng.integers(12, 30)), max_group=16, max_tokens=12,
                           rewards="fractional" if b == 3 else "binary")
        parts = deal(rng, batch.uid, world, empty_rank)
        order = np.concatenate(parts)
        whole = rank_args(batch, order, dtype, per_sample, mask_bool)
        split = split_flags(batch.uid, parts)
        for name, settings in SETTINGS.items():
            for r in range(world):
                calls[r].append(dict(settings=settings, **rank_args(batch, parts[r], dtype, per_sample, mask_bool)))
            checks.append(dict(kind="ok", name=f"batch {b} {name}", whole=dict(settings=settings, **whole),
                               parts=parts, split=split, dtype=dtype))

    if not errors or world < 2:
        return calls, checks
    # Errors: every rank raises the same ValueError, and the next call still works.
    batch = make_batch(rng, num_groups=10, max_group=8, max_tokens=8)
    parts = deal(rng, batch.uid, world, world)
    good = [rank_args(batch, parts[r], torch.float32, False, False) for r in range(world)]

    def error_case(name, change, message):
        for r in range(world):
            args = dict(good[r], settings=lens.presets.lens())
            calls[r].append(change(r, args))
        checks.append(dict(kind="error", name=name, message=message))

    def bad_reward(r, args):
        if r == 1:
            rewards = args["token_level_rewards"].clone()
            rewards[0, 0] += 2.0
            args["token_level_rewards"] = rewards
        return args

    error_case("a reward out of [0, 1] on rank 1", bad_reward,
               f"lens: rank 1 of {world} rejected its input: lens: token_rewards (row sum)[0] is a reward outside")
    error_case("settings differ on the last rank",
               lambda r, a: dict(a, epsilon=1e-4) if r == world - 1 else a,
               f"rank {world - 1} passed settings that differ from rank 0's")
    error_case("int64 ids on rank 0, uid strings elsewhere",
               lambda r, a: dict(a, index=torch.arange(len(a["index"]), dtype=torch.int64)) if r == 0 else a,
               "gives its group ids in another form")
    error_case("float64 on rank 0, float32 elsewhere",
               lambda r, a: dict(a, token_level_rewards=a["token_level_rewards"].double(),
                                 old_log_probs=a["old_log_probs"].double()) if r == 0 else a,
               "passes another dtype than an earlier rank")
    error_case("an unknown setting on rank 1", lambda r, a: dict(a, bogus=1) if r == 1 else a,
               "lens: settings.bogus is not a setting")
    error_case("rewards not an array on the last rank",
               lambda r, a: dict(a, token_level_rewards=a["token_level_rewards"].tolist()) if r == world - 1 else a,
               f"lens: rank {world - 1} of {world} rejected its input: lens: rewards must be a torch tensor")
    no_index = lambda a: {k: v for k, v in a.items() if k != "index"}  # noqa: E731
    error_case("group_size that does not divide rank 0's samples",
               lambda r, a: dict(no_index(a), group_size=len(parts[0]) + 1),
               f"lens: rank 0 of {world} rejected its input: lens.distributed: group_size is")
    error_case("group_size on rank 0, index elsewhere",
               lambda r, a: dict(no_index(a), group_size=1) if r == 0 else a, "gives its group ids in another form")
    for r in range(world):
        calls[r].append(dict(good[r], settings=lens.presets.lens()))
    order = np.concatenate(parts)
    checks.append(dict(kind="ok", name="after the errors", parts=parts, split=split_flags(batch.uid, parts),
                       whole=dict(settings=lens.presets.lens(), **rank_args(batch, order, torch.float32, False, False)),
                       dtype=torch.float32))

    # More groups on a rank than the first buffer holds (INITIAL_CAPACITY_WORDS): the first call
    # gathers twice, every rank grows its buffer alike, and the next call gathers once.
    batch = make_batch(rng, num_groups=600, max_group=4, max_tokens=4)
    parts = deal(rng, batch.uid, world, world)
    order = np.concatenate(parts)
    for collectives in (2, 1):
        for r in range(world):
            calls[r].append(dict(settings=lens.presets.verl_grpo(), **rank_args(batch, parts[r], torch.float32,
                                                                                False, False)))
        checks.append(dict(kind="ok", name=f"buffer growth, {collectives} all-gathers", parts=parts,
                           split=split_flags(batch.uid, parts), dtype=torch.float32, collectives=collectives,
                           whole=dict(settings=lens.presets.verl_grpo(),
                                      **rank_args(batch, order, torch.float32, False, False))))
    return calls, checks


def make_fixed_cases(world: int, seed: int, group_size: int = 4):
    """TRL's layout: every rank holds whole groups of group_size contiguous
    samples (rank 1 none), the same call with group_size=; groups never
    split, so every advantage is bitwise, batch std included (it is the
    whole batch's)."""
    rng = np.random.default_rng(seed)
    batch = make_batch(rng, num_groups=60, max_group=8, max_tokens=8, shuffle=False)
    counts = [0 if r == 1 else int(rng.integers(1, 6)) for r in range(world)]
    bounds = np.cumsum([0] + counts) * group_size
    parts = [np.arange(bounds[r], bounds[r + 1]) for r in range(world)]
    order = np.concatenate(parts)
    calls = [[] for _ in range(world)]
    checks = []
    for name in ("trl_grpo_batch_std", "verl_grpo", "lens"):
        settings = SETTINGS[name]
        for r in range(world):
            args = rank_args(batch, parts[r], torch.float32, False, False)
            del args["index"]
            calls[r].append(dict(settings=settings, group_size=group_size, **args))
        whole = rank_args(batch, order, torch.float32, False, False)
        del whole["index"]
        checks.append(dict(kind="ok", name=f"group_size {name}", parts=parts, split=np.zeros(len(order), bool),
                           dtype=torch.float32, whole=dict(settings=settings, group_size=group_size, **whole)))
    return calls, checks


# ---------------------------------------------------------------- spawning

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(world: int, calls, tmp_path, backend: str = "gloo"):
    """Runs `world` worker processes over the call lists; returns each rank's
    outcomes. Fails (and kills every worker) past TIMEOUT_S."""
    port = free_port()
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(lens.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root, os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    if sys.platform.startswith("linux"):  # loopback only: Gloo would otherwise pick the host name's interface
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    env["OMP_NUM_THREADS"] = "1"
    procs = []
    for r in range(world):
        with open(tmp_path / f"calls{r}.pkl", "wb") as f:
            pickle.dump(calls[r], f)
        log = open(tmp_path / f"rank{r}.log", "w")
        procs.append((subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker", str(tmp_path), str(r),
                                        str(world), str(port), backend], env=env, stdout=log, stderr=log), log))
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for proc, _ in procs:
            proc.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    logs = [(tmp_path / f"rank{r}.log").read_text()[-3000:] for r in range(world)]
    codes = [p.returncode for p, _ in procs]
    assert codes == [0] * world, f"worker exit codes {codes} (a hang is killed after {TIMEOUT_S} s):\n" + "\n".join(logs)
    results = []
    for r in range(world):
        with open(tmp_path / f"results{r}.pkl", "rb") as f:
            results.append(pickle.load(f))
    return results


def worker(folder: str, rank: int, world: int, port: int, backend: str) -> None:
    import datetime

    import torch.distributed as dist

    import lens.distributed

    with open(os.path.join(folder, f"calls{rank}.pkl"), "rb") as f:
        calls = pickle.load(f)
    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=90))
    count = [0]
    all_gather = dist.all_gather

    def counting_all_gather(*args, **kwargs):  # every collective lens.distributed makes goes through here
        count[0] += 1
        return all_gather(*args, **kwargs)

    dist.all_gather = counting_all_gather
    outcomes = []
    for kwargs in calls:
        if backend == "nccl":
            kwargs = {k: (v.cuda() if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}
        count[0] = 0
        try:
            out = lens.distributed.compute_advantages(**kwargs)
            outcomes.append(("ok", out.advantages.cpu(), out.token_advantages.cpu(), out.summary,
                             lens.distributed.exchanged_words(), count[0]))
        except ValueError as error:
            outcomes.append(("error", str(error), count[0]))
    dist.destroy_process_group()
    with open(os.path.join(folder, f"results{rank}.pkl"), "wb") as f:
        pickle.dump(outcomes, f)


# ---------------------------------------------------------------- checks (parent)

def check_call(check, outcomes, world):
    if check["kind"] == "error":
        for r, outcome in enumerate(outcomes):
            assert outcome[0] == "error", f"{check['name']}: rank {r} did not raise"
            assert check["message"] in outcome[1], f"{check['name']}: rank {r}: {outcome[1]}"
        assert len({o[1] for o in outcomes}) == 1, f"{check['name']}: ranks raised different messages"
        assert [o[2] for o in outcomes] == [1] * world, "an error is known to every rank after one all-gather"
        return
    ref = lens.compute_advantages(**check["whole"])
    parts, split, dtype = check["parts"], check["split"], check["dtype"]
    batch_std = check["whole"]["settings"].kind == "grpo_batch_std"
    rtol = 1e-12 if dtype == torch.float64 else 1.2e-7
    offset = 0
    nonzero = 0
    near_zero = 0  # split-group samples whose advantage is 0 up to rounding: either side may be exactly 0
    for r, outcome in enumerate(outcomes):
        assert outcome[0] == "ok", f"{check['name']}: rank {r} raised {outcome[1]}"
        _, adv, tok, summary, _, collectives = outcome
        expected = check.get("collectives", 2 if check["whole"]["settings"].kind == "lens" else 1)
        assert collectives == expected, f"{check['name']}: rank {r}: {collectives} all-gathers"
        n = len(parts[r])
        want, want_tok = ref.advantages[offset:offset + n], ref.token_advantages[offset:offset + n]
        assert adv.dtype == dtype and adv.shape == want.shape and tok.shape == want_tok.shape
        exact = ~torch.from_numpy(split[offset:offset + n])
        if batch_std and split.any():
            exact[:] = False
        assert torch.equal(adv[exact], want[exact]), f"{check['name']}: rank {r}: unsplit groups are not bitwise"
        assert torch.equal(tok[exact], want_tok[exact])
        assert torch.equal(torch.signbit(tok[exact]), torch.signbit(want_tok[exact]))  # -0.0 where masked
        close = lambda a, b: bool(((a.double() - b.double()).abs() <= rtol * b.double().abs() + 1e-12).all())
        assert close(adv, want), f"{check['name']}: rank {r}: {(adv.double() - want.double()).abs().max()}"
        assert close(tok, want_tok)
        for field in ("num_groups", "num_negative_groups", "num_zero_variance_groups", "negative_group_fraction"):
            assert summary[field] == ref.summary[field], f"{check['name']}: {field}"
        assert summary["num_samples"] == n
        nonzero += summary["num_nonzero_advantages"]
        near_zero += int(((want.double().abs() <= 1e-12) & ~exact).sum())
        offset += n
    assert offset == ref.advantages.shape[0]
    assert abs(nonzero - ref.summary["num_nonzero_advantages"]) <= near_zero, check["name"]


@pytest.mark.parametrize("world", WORLDS)
def test_gloo_ranks_match_the_single_process_call(world, tmp_path):
    calls, checks = make_cases(world, seed=1500 + world)
    fixed_calls, fixed_checks = make_fixed_cases(world, seed=1700 + world)
    calls = [c + f for c, f in zip(calls, fixed_calls)]
    checks = checks + fixed_checks
    results = spawn(world, calls, tmp_path)
    assert all(len(r) == len(checks) for r in results)
    num_split = 0
    for k, check in enumerate(checks):
        check_call(check, [results[r][k] for r in range(world)], world)
        num_split += int(check.get("split", np.zeros(1)).any())
    assert num_split > 0  # the cases do split groups across ranks
    # a steady trainer: the first exchange's buffer settles and is the same on every rank
    words = {results[r][-1][4] for r in range(world)}
    assert len(words) == 1


def test_deal_covers_whole_spread_and_empty():
    rng = np.random.default_rng(0)
    batch = make_batch(rng, num_groups=12, max_group=16)
    parts = deal(rng, batch.uid, 3, 1)
    assert len(parts[1]) == 0 and sum(len(p) for p in parts) == batch.num_samples
    split = split_flags(batch.uid, parts)
    assert split.any() and not split.all()


def test_uid_hash_is_deterministic_and_separates_types():
    ids, checks = lens._lens.hash_keys(["a", "b", "a", b"a", 1, "1"])
    assert ids[0] == ids[2] and checks[0] == checks[2]
    assert len(set(ids.tolist())) == 5 and len(set(checks.tolist())) == 5
    again, _ = lens._lens.hash_keys(np.array(["a"], dtype=object))
    assert again[0] == ids[0]
    # a fixed value: the hash is part of the wire format, the same on every rank and every run
    fnv = 0xCBF29CE484222325
    for byte in (1, ord("a")):  # the type byte of str, then the UTF-8 bytes
        fnv = ((fnv ^ byte) * 0x100000001B3) % (1 << 64)
    x = fnv ^ 1
    x = (x + 0x9E3779B97F4A7C15) % (1 << 64)
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % (1 << 64)
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) % (1 << 64)
    x ^= x >> 31
    assert ids[0] == np.int64(np.uint64(x).astype(np.int64))


def test_nccl_path(tmp_path):
    """The NCCL path: one process per CUDA device (at most 4), CUDA tensors in
    and out, buffers on the device. Skipped where there is no device."""
    import lens.distributed  # importable everywhere  # noqa: F401
    import torch.distributed as dist

    if not dist.is_nccl_available():
        pytest.skip("NCCL path not run: this torch build has no NCCL (torch.distributed.is_nccl_available() is False)")
    if not torch.cuda.is_available():
        pytest.skip("NCCL path not run: no CUDA device here (torch.cuda.is_available() is False); "
                    "it runs with one process per device where one is present")
    world = min(torch.cuda.device_count(), 4)
    calls, checks = make_cases(world, seed=2600 + world)
    results = spawn(world, calls, tmp_path, backend="nccl")
    for k, check in enumerate(checks):
        check_call(check, [results[r][k] for r in range(world)], world)


def test_docs_show_the_tested_cpp_snippet():
    """docs/DISTRIBUTED.md's C++ example is the one tests/core/test_partials.cpp compiles and checks."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    test = open(os.path.join(root, "tests", "core", "test_partials.cpp")).read()
    tested = test.split("// example-begin distributed\n")[1].split("  // example-end distributed")[0]
    tested = "\n".join(line[2:] for line in tested.splitlines())
    docs = open(os.path.join(root, "docs", "DISTRIBUTED.md")).read()
    documented = docs.split("## C++: any transport")[1].split("```cpp\n")[1].split("```")[0].rstrip("\n")
    assert documented == tested


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "worker":
    worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
