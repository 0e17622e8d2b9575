#!/usr/bin/env python3
"""lens and Math-Verify, timed and scored in one run on the same pairs.

The pairs are the differential test's corpus (tests/math/differential/corpus.py):
MATH-500 reference answers verbatim, bare, rewritten in equal forms and
perturbed into wrong ones, labelled by construction. A realistic mix: most
answers are short and structured, some have variables or relations.

Math-Verify (PyPI math-verify) runs in-process, `parse` of the gold and of the
output plus `verify` for every pair (no caching, as a reward function would).
lens runs through lens_math_verdicts, which times lens::math::reward alone
over --repeat passes (one core; best of three runs). Printed: checks/s of each, the ratio,
agreement with the labels, and the disagreements by reason.

  python bench/math/compare_math_verify.py [--verdicts PATH] [--repeat N]
                                           [--markdown] [--python-list]

--markdown prints the table docs/MATH_REWARD.md shows; --python-list prints the
DISAGREEMENTS literal of tests/math/differential/test_math_verify.py.
Env: LENS_MATH_VERDICTS, LENS_MATH_DATA_DIR as for the test.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "math" / "differential"))
import corpus as corpus_module  # noqa: E402


def find_program(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("LENS_MATH_VERDICTS"):
        return Path(os.environ["LENS_MATH_VERDICTS"])
    found = corpus_module.built_verdicts_programs()
    if not found:
        sys.exit("lens_math_verdicts not found: build the target or pass --verdicts")
    return found[0]


def lens_run(program: Path, pairs, repeat: int):
    lines = "".join(json.dumps({"output": p.output, "reference": p.reference}) + "\n" for p in pairs)
    done = subprocess.run([str(program), "--repeat", str(repeat)], input=lines.encode(), capture_output=True, check=True)
    verdicts = [int(v) for v in done.stdout.decode().split()]
    timing = json.loads(done.stderr.decode().strip().splitlines()[-1])
    return verdicts, timing


def math_verify_run(pairs):
    from math_verify import parse, verify

    verdicts = []
    start = time.process_time()
    wall = time.perf_counter()
    for p in pairs:
        try:
            gold = parse(f"\\boxed{{{p.reference}}}")
            verdicts.append(1 if verify(gold, parse(p.output)) else 0)
        except Exception:
            verdicts.append(0)
    return verdicts, time.process_time() - start, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verdicts", help="path of lens_math_verdicts")
    ap.add_argument("--repeat", type=int, default=200, help="lens passes over the corpus for timing")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--python-list", action="store_true")
    args = ap.parse_args()

    pairs = [p for p in corpus_module.build_corpus() if p.label is not None]
    program = find_program(args.verdicts)
    # Best of three lens runs: the machine may be shared; Math-Verify, 2,000x
    # slower, is timed once (its CPU time).
    runs = [lens_run(program, pairs, args.repeat) for _ in range(3)]
    lens, timing = max(runs, key=lambda run: run[1]["checks_per_second"])
    mv, mv_cpu, mv_wall = math_verify_run(pairs)
    lens_rate = timing["checks_per_second"]
    mv_rate = len(pairs) / mv_cpu
    lens_right = sum(v == p.label for p, v in zip(pairs, lens))
    mv_right = sum(v == p.label for p, v in zip(pairs, mv))
    lens_fp = sum(v == 1 and p.label == 0 for p, v in zip(pairs, lens))
    mv_fp = sum(v == 1 and p.label == 0 for p, v in zip(pairs, mv))

    def split(kind_test):
        sel = [(p, l, m) for p, l, m in zip(pairs, lens, mv) if kind_test(p)]
        return len(sel), sum(l == p.label for p, l, _ in sel), sum(m == p.label for p, _, m in sel)

    boxed = split(lambda p: "bare" not in p.kind and not p.kind.startswith("format"))
    marked = split(lambda p: p.kind.startswith("format"))
    bare = split(lambda p: "bare" in p.kind)
    print(f"lens: {program}")
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"pairs: {len(pairs)} ({sum(p.label == 1 for p in pairs)} equal, {sum(p.label == 0 for p in pairs)} wrong)")
    print(f"lens:        {lens_right}/{len(pairs)} agree with the labels, {lens_fp} wrong accepted, "
          f"{lens_rate:,.0f} checks/s (CPU, {timing['repeat']} passes)")
    print(f"Math-Verify: {mv_right}/{len(pairs)} agree with the labels, {mv_fp} wrong accepted, "
          f"{mv_rate:,.0f} checks/s (CPU; wall {len(pairs) / mv_wall:,.0f}/s)")
    print(f"boxed outputs: {boxed[0]} pairs, lens {boxed[1]}, Math-Verify {boxed[2]}; "
          f"$...$ / Answer: / Minerva outputs: {marked[0]} pairs, lens {marked[1]}, Math-Verify {marked[2]}; "
          f"bare outputs: {bare[0]} pairs, lens {bare[1]}, Math-Verify {bare[2]}")
    print(f"speed ratio lens / Math-Verify: {lens_rate / mv_rate:,.0f}x")

    groups: dict[str, list] = collections.defaultdict(list)
    for p, l, m in zip(pairs, lens, mv):
        if l != m:
            groups[corpus_module.disagreement_reason(p, l, m)].append((p, l, m))
    print("disagreements:", {k: len(v) for k, v in groups.items()})
    if args.markdown:
        print("\n| reason | pairs | lens | Math-Verify | label | examples (reference / candidate) |")
        print("| --- | ---: | --- | --- | --- | --- |")
        for reason, items in groups.items():
            p, l, m = items[0]
            examples = "; ".join(f"`{q.reference}` / `{q.form}`" for q, _, _ in items[:3])
            text = corpus_module.REASONS.get(reason, reason)
            print(f"| {text} | {len(items)} | {l} | {m} | {p.label} | {examples} |")
        print("\n<details><summary>every disagreement (kind, reference, candidate)</summary>\n")
        for reason, items in groups.items():
            print(f"- {reason}:")
            for q, _, _ in items:
                print(f"  - `{q.kind}` `{q.reference}` / `{q.form}`")
        print("\n</details>")
    if args.python_list:
        print("DISAGREEMENTS: dict[str, list[tuple[str, str, str]]] = {")
        for reason, items in groups.items():
            print(f"    {reason!r}: [")
            for q, _, _ in items:
                print(f"        {q.key!r},")
            print("    ],")
        print("}")


if __name__ == "__main__":
    main()
