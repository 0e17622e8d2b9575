#!/usr/bin/env python3
"""Turns the CPU benchmark's JSON (Google Benchmark) into docs/BENCHMARKS_TABLE.md
and the scaling plot docs/bench_scaling.png (through gnuplot).

    scripts/bench_report.py RESULT.json MACHINE.txt TABLE.md PLOT.png [COMMAND [DOC.md]]

DOC.md, when given, gets its section between <!-- bench:begin --> and
<!-- bench:end --> replaced by the machine, the command and the targets.

Case names follow bench/cpu/bench_cases.hpp:
"<level>/<estimator>/<layout>/G<g>/<size>/<impl>" with impl in lens, copy,
scalar, torch. Only the standard library is used; the plot needs gnuplot.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict


def load(path):
    with open(path) as f:
        data = json.load(f)
    cases = defaultdict(dict)  # case key -> impl -> run
    for run in data["benchmarks"]:
        # Repeated cases report aggregates only; their median stands for the case.
        if run.get("run_type") == "aggregate" and run.get("aggregate_name") != "median":
            continue
        parts = [p for p in run["run_name"].split("/") if p != "real_time" and not p.startswith("repeats:")]
        level, estimator, layout, group, size, impl = parts
        if level == "tok":
            n, t = (int(x) for x in size.split("x"))
        else:
            n, t = int(size[1:]), 1
        key = (level, estimator, layout, int(group[1:]), n, t)
        cases[key][impl] = run
    return data.get("context", {}), cases


def seconds(run):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[run["time_unit"]]
    return run["real_time"] * scale


def fmt_time(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_ratio(x):
    return "" if x is None else (f"{x:.1f}x" if x >= 10 else f"{x:.2f}x")


def ratio(case, slow, fast):
    if slow in case and fast in case:
        return seconds(case[slow]) / seconds(case[fast])
    return None


def size_label(key):
    level, _, _, _, n, t = key
    return f"{n} x {t}" if level == "tok" else f"{n}"


def case_row(key, case):
    lens = case.get("lens")
    if lens is None:
        return None
    roofline = ratio(case, "copy", "lens")
    cells = [
        key[1].upper() if key[1] == "grpo" else "LENS",
        key[2],
        str(key[3]),
        size_label(key),
        fmt_time(seconds(lens)),
        f"{lens['items_per_second'] / 1e6:.1f}",
        f"{lens['GB/s']:.2f}",
        "" if roofline is None else f"{100 * roofline:.0f}%",
        fmt_time(seconds(case["torch"])) if "torch" in case else "",
        fmt_ratio(ratio(case, "torch", "lens")),
        fmt_time(seconds(case["scalar"])) if "scalar" in case else "",
        fmt_ratio(ratio(case, "scalar", "lens")),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = ("| estimator | layout | G | N (x T) | lens | M items/s | GB/s | of roofline | LibTorch | lens faster by "
          "| scalar ref. | lens faster by |\n"
          "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def loglog_slope(points):
    """Least-squares slope of log(time) against log(N)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(s) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")


def scaling_series(cases, estimator, layout, impl):
    pts = []
    for key, case in cases.items():
        if key[0] == "seq" and key[1] == estimator and key[2] == layout and key[3] == 16 and impl in case:
            pts.append((key[4], seconds(case[impl])))
    return sorted(pts)


def headline(cases):
    lines = ["| target | case | measured | goal |", "| --- | --- | ---: | ---: |"]

    def get(level, est, layout, g, n, t=1):
        return cases.get((level, est, layout, g, n, t), {})

    for n, t in [(4096, 4096), (16384, 4096)]:
        c = get("tok", "lens", "fixed", 16, n, t)
        r = ratio(c, "copy", "lens")
        if r is not None:
            lines.append(f"| token LENS, share of the roofline copy's bandwidth | {n} x {t} ({n * t / 2**20:.0f}M tokens) "
                         f"| {100 * r:.0f}% | >= 70% |")
    for n, t, goal in [(512, 4096, 2), (4096, 4096, 5), (16384, 4096, 5)]:
        c = get("tok", "lens", "fixed", 16, n, t)
        r = ratio(c, "torch", "lens")
        if r is not None:
            lines.append(f"| token LENS, faster than LibTorch | {n} x {t} | {fmt_ratio(r)} | >= {goal}x |")
    for est in ["grpo", "lens"]:
        c = get("seq", est, "ids", 16, 1 << 20)
        r = ratio(c, "torch", "lens")
        if r is not None:
            lines.append(f"| sequence {est.upper()}, shuffled ids, faster than LibTorch | N = 1048576, G = 16 "
                         f"| {fmt_ratio(r)} | >= 3x |")
    for layout in ["ids", "fixed", "offsets"]:
        for est in ["grpo", "lens"]:
            pts = [(n, s) for n, s in scaling_series(cases, est, layout, "lens") if 10**4 <= n <= 4 * 2**20]
            if len(pts) >= 3:
                slope = loglog_slope(pts)
                per = [s / n * 1e9 for n, s in pts]
                lines.append(f"| sequence {est.upper()}, {layout} layout, linear scaling "
                             f"| N = {pts[0][0]} .. {pts[-1][0]} "
                             f"| log-log slope {slope:.2f}; {min(per):.0f} .. {max(per):.0f} ns/sample | slope 1 |")
    return "\n".join(lines)


def sequence_goal_table(cases, goal):
    """Issue 11's goal: every sequence-level case with G = 4, 16, 64 and
    N = 2^16 .. 2^22 at least `goal` times faster than LibTorch."""
    lines = [f"| sequence case | lens | LibTorch | lens faster by | of roofline | goal >= {goal}x | ids / offsets |",
             "| --- | ---: | ---: | ---: | ---: | :---: | ---: |"]
    met = total = 0
    ids_met = ids_total = 0
    keys = sorted((k for k in cases if k[0] == "seq" and k[3] in (4, 16, 64) and 2**16 <= k[4] <= 2**22),
                  key=lambda k: (k[1], ["fixed", "offsets", "ids"].index(k[2]), k[3], k[4]))
    for key in keys:
        case = cases[key]
        r = ratio(case, "torch", "lens")
        if r is None or "lens" not in case:
            continue
        roof = ratio(case, "copy", "lens")
        total += 1
        met += r >= goal
        # Issue 11's second goal: shuffled ids cost at most 2x the offsets layout of the same groups.
        vs_offsets = ""
        contiguous = cases.get((key[0], key[1], "offsets") + tuple(key[3:]))
        if key[2] == "ids" and contiguous and "lens" in contiguous:
            cost = seconds(case["lens"]) / seconds(contiguous["lens"])
            ids_total += 1
            ids_met += cost <= 2
            vs_offsets = f"{cost:.2f}x"
        lines.append(f"| {key[1].upper()} {key[2]} G={key[3]} N={key[4]} | {fmt_time(seconds(case['lens']))} "
                     f"| {fmt_time(seconds(case['torch']))} | {fmt_ratio(r)} "
                     f"| {'' if roof is None else f'{100 * roof:.1f}%'} | {'yes' if r >= goal else 'no'} "
                     f"| {vs_offsets} |")
    lines.append(f"\n{met} of {total} sequence-level cases meet the goal; "
                 f"shuffled ids cost at most 2x the offsets layout in {ids_met} of {ids_total}.")
    return "\n".join(lines)


def write_table(context, cases, machine, out_path, command):
    keys = sorted(cases, key=lambda k: (k[0] != "seq", k[1], ["fixed", "offsets", "ids"].index(k[2]), k[3], k[4] * k[5]))
    seq_main = [k for k in keys if k[0] == "seq" and (k[3] != 16 or k[4] in (512, 1 << 16, 1 << 20, 1 << 22))]
    seq_scaling = [k for k in keys if k[0] == "seq" and k[3] == 16]
    tok = [k for k in keys if k[0] == "tok"]
    out = []
    out.append("<!-- generated by scripts/bench_report.py from the benchmark JSON; do not edit by hand -->")
    out.append("## Machine and command\n")
    out.append("```")
    out.append(machine.strip())
    out.append(f"benchmark library: num_cpus={context.get('num_cpus')}, mhz_per_cpu={context.get('mhz_per_cpu')}, "
               f"lens_threads={context.get('lens_threads')}, libtorch={context.get('libtorch_baseline')}, "
               f"flags: {context.get('lens_flags')}")
    out.append(f"date: {context.get('date')}")
    out.append("```\n")
    out.append(f"Command: `{command}`. Times are wall-clock per call (the mean over the iterations Google Benchmark "
               "chose); \"of roofline\" is the time of a memcpy moving the same number of bytes the case must read "
               "and write, divided by lens's time; \"lens faster by\" is the baseline's time divided by lens's, "
               "all from the same run. The target cases (token-level LENS from 512 x 4096 up, shuffled ids at "
               "N = 1048576) are run three times and show the median.\n")
    out.append("## Targets\n")
    out.append(headline(cases) + "\n")
    native = "NATIVE" in command
    out.append(f"### Sequence level against LibTorch ({'-march=native' if native else 'default flags'})\n")
    out.append(sequence_goal_table(cases, 3 if native else 2) + "\n")
    out.append("## Token level (log-probs + mask to token advantages, fixed groups of 16)\n")
    out.append(HEADER)
    out.extend(r for r in (case_row(k, cases[k]) for k in tok) if r)
    out.append("\n## Sequence level\n")
    out.append(HEADER)
    out.extend(r for r in (case_row(k, cases[k]) for k in seq_main) if r)
    out.append("\n## Sequence level, scaling series (G = 16)\n")
    out.append(HEADER)
    out.extend(r for r in (case_row(k, cases[k]) for k in seq_scaling) if r)
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")
    # Machine, command and targets (everything before the full tables) also go
    # into docs/BENCHMARKS.md between its markers, so the two never disagree.
    summary = "\n".join(out[1:out.index("## Token level (log-probs + mask to token advantages, fixed groups of 16)\n")])
    return summary.replace("## ", "### ")


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def update_markers(path, summary):
    if not os.path.exists(path):
        return False
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + summary.strip() + "\n" + END + tail)
    return True


def write_plot(cases, out_path):
    if shutil.which("gnuplot") is None:
        print("bench_report: gnuplot not found; no plot written", file=sys.stderr)
        return
    series = []
    for est in ["grpo", "lens"]:
        for layout in ["fixed", "offsets", "ids"]:
            series.append((est, layout, "lens", f"lens, {layout}"))
        series.append((est, "ids", "torch", "LibTorch, ids"))
        series.append((est, "fixed", "torch", "LibTorch, fixed"))
    with tempfile.TemporaryDirectory() as tmp:
        panels = []
        for est in ["grpo", "lens"]:
            plots = []
            for i, (e, layout, impl, title) in enumerate(s for s in series if s[0] == est):
                pts = scaling_series(cases, e, layout, impl)
                if not pts:
                    continue
                path = os.path.join(tmp, f"{e}_{layout}_{impl}.dat")
                with open(path, "w") as f:
                    f.writelines(f"{n} {s * 1e3}\n" for n, s in pts)
                colour = {"fixed": "#1b9e77", "offsets": "#7570b3", "ids": "#d95f02"}[layout]
                style = (f"lp pt 7 ps 0.6 lc rgb '{colour}'" if impl == "lens"
                         else f"lp dt 2 pt 6 ps 0.6 lc rgb '{colour}'")
                plots.append(f"'{path}' using 1:2 with {style} title '{title}'")
            if plots:
                ref = scaling_series(cases, est, "ids", "lens")
                if ref:
                    n0, s0 = ref[len(ref) // 2]
                    plots.append(f"({s0 * 1e3}/{n0})*x with lines lc rgb 'gray' dt 3 title 'linear (slope 1)'")
                panels.append((est, plots))
        terminals = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        cairo = "pngcairo" in terminals.stdout + terminals.stderr
        script = [
            "set terminal pngcairo size 1200,520 font ',10'" if cairo else "set terminal png size 1200,520",
            f"set output '{out_path}'",
            "set logscale xy",
            "set format x '10^{%L}'",
            "set format y '10^{%L}'",
            "set xlabel 'N (responses, G = 16)'",
            "set ylabel 'time per call (ms)'",
            "set key top left",
            "set grid",
            f"set multiplot layout 1,{len(panels)}",
        ]
        for est, plots in panels:
            script.append(f"set title 'sequence-level {est.upper()} on the CPU, one thread'")
            script.append("plot " + ", ".join(plots))
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    result, machine_path, table_path, plot_path = sys.argv[1:5]
    command = sys.argv[5] if len(sys.argv) > 5 else "scripts/bench.sh"
    context, cases = load(result)
    with open(machine_path) as f:
        machine = f.read()
    summary = write_table(context, cases, machine, table_path, command)
    write_plot(cases, plot_path)
    print(f"bench_report: wrote {table_path} and {plot_path}")
    if len(sys.argv) > 6 and update_markers(sys.argv[6], summary):
        print(f"bench_report: updated the measured section of {sys.argv[6]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
