"""The labelled corpus of the differential test (and of bench/math/compare_math_verify.py).

Every pair is built from a MATH-500 reference answer and labelled by construction:

  verbatim   the answer in a short solution ending in ``\\boxed{answer}``      label 1
  format     the answer marked otherwise: ``$answer$``, "Answer: ...", Minerva's label 1
             "The final answer is $answer$. I hope it is correct."
  bare       the answer alone: no box, no ``$``, no "Answer:"                label 1
  rewrite    an equal form of one of the kinds issue 14 lists, boxed or bare  label 1
             (frac as a/b, \\dfrac, \\cfrac, explicit \\cdot products, exponent and
             subscript braces, thousands separators, percent/degree words,
             terminating decimals, reordered terms, expanded/factored forms,
             swapped or scaled equations, oriented inequalities)
  wrong      a perturbation that changes the value: a digit bumped, the sign  label 0
             flipped, a tuple reordered, an interval bracket changed, and
             hand-written near misses for the answers with variables
             (x^2 for 2x, swapped factors, a changed coefficient, ...)
  policy     a rounded decimal (4.666667 for 14/3): not labelled, reported
             separately (lens rejects it by default; see docs/MATH_REWARD.md)

Plus a few pairs with the issue's own examples that MATH-500 has no answer for
(inequalities, \\sec^2 y, \\cot x). Deterministic: the same data gives the same corpus.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Pair:
    kind: str  # verbatim, bare, rewrite:<what>, wrong:<what>, policy
    reference: str
    form: str  # the candidate answer as written (boxed in `output` unless the kind says bare)
    output: str  # the model output both checkers read
    label: int | None  # 1 equal, 0 different, None for policy pairs

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.reference, self.form)



def terminates(value: Fraction) -> bool:
    """Whether the fraction has a finite decimal expansion (denominator 2^a 5^b)."""
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    return d == 1

def built_verdicts_programs() -> list[Path]:
    """lens_math_verdicts in the build folders of the checkout, Release builds
    first (a sanitizer build is slow to time), then the newest first."""
    found = list(REPO.glob("build-*/tests/math/lens_math_verdicts")) + list(REPO.glob("build/tests/math/lens_math_verdicts"))

    def release(path: Path) -> bool:
        cache = path.parents[2] / "CMakeCache.txt"
        try:
            return "CMAKE_BUILD_TYPE:STRING=Release" in cache.read_text(errors="replace")
        except OSError:
            return False

    return sorted(found, key=lambda p: (not release(p), -p.stat().st_mtime))


def data_dir() -> Path:
    return Path(os.environ.get("LENS_MATH_DATA_DIR", REPO.parent / "shared" / "data" / "math"))


def load_answers() -> list[str]:
    path = data_dir() / "math500.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["answer"] for line in f if line.strip()]


def boxed(answer: str) -> str:
    return f"We simplify and check the result.\nTherefore the final answer is $\\boxed{{{answer}}}$."


# ---- equal rewrites --------------------------------------------------------

SIMPLE_FRAC = re.compile(r"^(-?)\\[dt]?frac\{?(\d+)\}?\{?(\d+)\}?$")


def frac_parts(answer: str):
    m = SIMPLE_FRAC.match(answer.replace(" ", ""))
    if not m:
        return None
    return m.group(1), int(m.group(2)), int(m.group(3))


def rewrites(answer: str) -> list[tuple[str, str]]:
    """(what, equal form) for one answer; only forms that are equal by construction."""
    out: list[tuple[str, str]] = []
    parts = frac_parts(answer)
    if parts:
        sign, num, den = parts
        out.append(("frac-slash", f"{sign}{num}/{den}"))
        value = Fraction(num, den)
        if terminates(value) and value.denominator != 1:
            decimal = f"{float(value):.10f}".rstrip("0")
            out.append(("terminating-decimal", f"{sign}{decimal}"))
    if "\\frac" in answer and "\\dfrac" not in answer:
        out.append(("dfrac", answer.replace("\\frac", "\\dfrac")))
        out.append(("cfrac", answer.replace("\\frac", "\\cfrac")))
    if re.search(r"\d(?=[a-zA-Z]|\\sqrt|\\pi)", answer) and "\\text" not in answer and "\\mbox" not in answer:
        out.append(("explicit-product", re.sub(r"(\d)(?=[a-zA-Z]|\\sqrt|\\pi)", r"\1 \\cdot ", answer)))
    if re.search(r"\^\d", answer):
        out.append(("exponent-braces", re.sub(r"\^(\d)", r"^{\1}", answer)))
    if re.search(r"_\d", answer):
        out.append(("subscript-braces", re.sub(r"_(\d+)", r"_{\1}", answer)))
    if re.search(r"_\{\d+\}", answer):
        out.append(("subscript-braces", re.sub(r"_\{(\d+)\}", r"_\1", answer)))
    if re.fullmatch(r"\d{4,}", answer):
        out.append(("thousands", f"{int(answer):,}"))
    if answer.endswith("\\%"):
        out.append(("percent-word", answer[:-2].strip() + " percent"))
    if answer.endswith("^\\circ"):
        out.append(("degree-word", answer[: -len("^\\circ")] + " degrees"))
    m = re.fullmatch(r"(\d+)\\sqrt\{(\d+)\}", answer)
    if m:
        out.append(("radical", f"\\sqrt{{{int(m.group(1)) ** 2 * int(m.group(2))}}}"))
    m = re.fullmatch(r"(-?\d+), ?(-?\d+)(?:, ?(-?\d+))?", answer)
    if m and "," in answer and not re.fullmatch(r"\d{1,3}(,\d{3})+", answer):
        items = [g for g in m.groups() if g is not None]
        out.append(("list-order", ", ".join(reversed(items))))
        out.append(("assignment-list", " \\text{ or } ".join(f"x = {item}" for item in items)))
    m = re.fullmatch(r"(-?\d+) ?([+-]) ?(\d+)i", answer)
    if m:
        out.append(("complex-order", f"{'-' if m.group(2) == '-' else ''}{m.group(3)}i + {m.group(1)}".replace("+ -", "- ")))
    m = re.fullmatch(r"\\text\{([A-Za-z]+)\}", answer)
    if m:
        out.append(("text-unwrapped", m.group(1)))
    m = re.fullmatch(r"(-?)\\frac\{\\pi\}\{(\d+)\}", answer)
    if m:
        out.append(("pi-slash", f"{m.group(1)}\\pi/{m.group(2)}"))
    m = re.fullmatch(r"\((-?\d+),(-?\d+)\)", answer.replace(" ", ""))
    if m:
        out.append(("left-right", f"\\left( {m.group(1)}, {m.group(2)} \\right)"))
        out.append(("assignment-tuple", f"(x, y) = ({m.group(1)}, {m.group(2)})"))
    m = re.fullmatch(r"\\text\{\(([A-E])\)\}", answer)
    if m:
        out.append(("choice-letter", m.group(1)))
        out.append(("choice-parenthesised", f"({m.group(1).lower()})"))
    if answer.startswith("\\$"):
        out.append(("money-plain", answer[2:].replace(",\\!", "")))
    m = re.fullmatch(r"\\\{(.*)\\\}", answer)
    if m and m.group(1).count(",") == 1 and "\\pm" not in m.group(1):
        first, second = m.group(1).split(",")
        out.append(("set-order", f"\\{{{second.strip()}, {first.strip()}\\}}"))
    if answer.startswith("x \\in "):
        out.append(("interval-without-variable", answer[len("x \\in "):]))
    m = re.fullmatch(r"(\d+)\\sqrt\{(\d+)\}", answer)
    if m:
        out.append(("radical-order", f"\\sqrt{{{m.group(2)}}} \\cdot {m.group(1)}"))
    out.extend(SYMBOLIC_REWRITES.get(answer, []))
    return out


# The MATH-500 answers with variables, each with equal forms of the kinds the
# issue lists (reordered, expanded/factored, explicit products, equations).
SYMBOLIC_REWRITES: dict[str, list[tuple[str, str]]] = {
    "p - q": [("reorder", "-q + p"), ("explicit-product", "p - 1 \\cdot q")],
    "x=5": [("swap-equation", "5 = x")],
    "x^5 - x^4 + x^3 - x^2 + x - 1": [("factored", "(x-1)(x^4+x^2+1)"), ("reorder", "-1 + x - x^2 + x^3 - x^4 + x^5")],
    "x^3+3x-6": [("reorder", "-6 + 3x + x^3")],
    "\\cot x": [("trig", "\\frac{\\cos x}{\\sin x}"), ("trig", "\\frac{1}{\\tan x}")],
    "2k+2": [("factored", "2(k+1)"), ("reorder", "2+2k")],
    "(a+5)(b+2)": [("expanded", "ab+5b+2a+10"), ("reorder", "(b+2)(a+5)")],
    "5x - 7y + 11z + 4 = 0": [("scaled-equation", "10x - 14y + 22z + 8 = 0"),
                              ("swap-equation", "0 = 5x - 7y + 11z + 4"),
                              ("moved-terms", "5x + 11z + 4 = 7y")],
    "-13x+3": [("reorder", "3-13x")],
    "\\frac{11+9a}{20}": [("reorder", "\\frac{9a+11}{20}"), ("split-fraction", "\\frac{9a}{20}+\\frac{11}{20}"),
                          ("decimal-coefficients", "0.45a+0.55"), ("factored", "\\frac{1}{20}(9a+11)")],
    "2k": [("explicit-product", "2 \\cdot k"), ("reorder", "k \\cdot 2")],
    "6r^2-4r-24": [("factored", "2(3r^2-2r-12)"), ("reorder", "-24-4r+6r^2")],
    "15x - 80": [("factored", "5(3x-16)"), ("reorder", "-80+15x"), ("explicit-product", "15 \\cdot x - 80")],
    "5r^5": [("explicit-product", "5 \\cdot r^{5}")],
    "x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1": [("factored", "(x^2+x+1)(x^6+x^3+1)"),
                                                          ("reorder", "1+x+x^2+x^3+x^4+x^5+x^6+x^7+x^8")],
    "8n^2 + 4n + 1": [("reorder", "1 + 4n + 8n^2"), ("factored", "4n(2n+1)+1")],
    "y = 2x + 3": [("swap-equation", "2x + 3 = y"), ("reorder", "y = 3 + 2x"), ("moved-terms", "2x - y + 3 = 0"),
                   ("scaled-equation", "2y = 4x + 6")],
    "y = -2x": [("moved-terms", "2x + y = 0"), ("swap-equation", "-2x = y")],
    "3R^2": [("explicit-product", "3 \\cdot R^{2}")],
}

# Pairs from the issue's own examples that no MATH-500 answer covers.
EXTRA_EQUAL: list[tuple[str, str, str]] = [
    ("inequality", "x \\geq 5", "x >= 5"),
    ("inequality", "x \\leq 5", "5 \\geq x"),
    ("inequality", "x < 1", "-x > -1"),
    ("inequality", "x > 2", "2 < x"),
    ("scaled-equation", "y = -\\frac12 x + \\frac34", "2x + 4y - 3 = 0"),
    ("trig", "\\tan^2 y + 1", "\\sec^2 y"),
    ("trig", "\\cot x", "\\frac{\\cos x}{\\sin x}"),
    ("bare", "\\frac{10}{9}", "\\frac{10}{9}"),
    ("bare", "(x-2)(x+2)", "(x-2)(x+2)"),
    ("bare", "0.1", ".1"),
    ("bare", "28", "28 percent"),
    ("bare", "7425000", "7,425,000"),
]
EXTRA_WRONG: list[tuple[str, str, str]] = [
    ("adversarial", "2x", "x^2"),
    ("adversarial", "x", "\\sqrt{x^2}"),
    ("adversarial", "x \\geq 5", "x > 5"),
    ("adversarial", "x < 1", "x > 1"),
    ("adversarial", "\\pi x", "3.14159265358979 x"),
    ("adversarial", "x + 3", "x + 3.0000001"),
    ("adversarial", "y = 2x + 3", "y = 2x - 3"),
    ("adversarial", "\\tan^2 y + 1", "\\sec y"),
    ("adversarial", "(x-2)(x+2)", "x^2+4"),
    ("adversarial", "\\frac{x}{2}", "\\frac{2}{x}"),
]

# Hand-written near misses for the answers with variables.
SYMBOLIC_WRONG: dict[str, list[str]] = {
    "p - q": ["q - p", "p + q"],
    "x^5 - x^4 + x^3 - x^2 + x - 1": ["(x+1)(x^4+x^2+1)", "x^5 - x^4 + x^3 - x^2 + x + 1"],
    "x^3+3x-6": ["x^3+3x+6", "3x^2+3x-6", "x^3+x-6"],
    "\\cot x": ["\\tan x", "\\frac{\\sin x}{\\cos x}"],
    "2k+2": ["2(k+2)", "2k"],
    "(a+5)(b+2)": ["(a+2)(b+5)", "ab+10"],
    "5x - 7y + 11z + 4 = 0": ["5x - 7y + 11z - 4 = 0", "5x + 7y + 11z + 4 = 0"],
    "-13x+3": ["13x+3", "-13x-3"],
    "\\frac{11+9a}{20}": ["\\frac{11+9b}{20}", "\\frac{9+11a}{20}"],
    "2k": ["k^2", "2+k"],
    "6r^2-4r-24": ["6r^2-4r+24", "12r-4r-24"],
    "15x - 80": ["15x + 80", "5(3x-80)"],
    "5r^5": ["5r^4", "r^5"],
    "x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1": ["(x^2+x+1)(x^6+x^3-1)"],
    "8n^2 + 4n + 1": ["8n^2 + 4n - 1", "16n + 4"],
    "y = 2x + 3": ["y = 3x + 2", "2x + y + 3 = 0"],
    "y = -2x": ["y = 2x", "2x - y = 0 + 1"],
    "3R^2": ["3R", "9R^2"],
}


# ---- wrong perturbations ---------------------------------------------------

def bump_last_digit(answer: str) -> str | None:
    # The power of a unit (`\mbox{ inches}^2`) is not the number: bump before it.
    unit_power = re.search(r"\}\^\{?\d\}?$", answer)
    end = unit_power.start() if unit_power else len(answer)
    for k in range(end - 1, -1, -1):
        c = answer[k]
        if c.isdigit():
            return answer[:k] + ("0" if c == "9" else chr(ord(c) + 1)) + answer[k + 1 :]
    return None


def is_plain_number(answer: str) -> bool:
    return re.fullmatch(r"-?(\d+(\.\d+)?|\\[dt]?frac\{?\d+\}?\{?\d+\}?|\d*\\sqrt\{?\d+\}?|\d*\\pi)", answer.replace(" ", "")) is not None


def value_is_zero(answer: str) -> bool:
    return re.fullmatch(r"-?0+(\.0*)?", answer.strip()) is not None


def wrongs(answer: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    bumped = bump_last_digit(answer)
    if bumped is not None and bumped != answer:
        out.append(("digit", bumped))
    if is_plain_number(answer) and not value_is_zero(answer):
        out.append(("sign", answer[1:] if answer.startswith("-") else "-" + answer))
    m = re.fullmatch(r"\((-?\d+),\s*(-?\d+)\)", answer)
    if m and m.group(1) != m.group(2):
        out.append(("tuple-order", f"({m.group(2)}, {m.group(1)})"))
    if re.fullmatch(r"[\(\[].*,.*[\)\]]", answer) and "\\infty" not in answer.split(",")[-1]:
        closing = answer[-1]
        swapped = answer[:-1] + ("]" if closing == ")" else ")")
        out.append(("interval-bracket", swapped))
    if not re.search(r"\d", answer) and not SYMBOLIC_WRONG.get(answer):
        out.append(("appended", answer + "+1"))
    for form in SYMBOLIC_WRONG.get(answer, []):
        out.append(("near-miss", form))
    return out


def rounded(answer: str) -> list[str]:
    parts = frac_parts(answer)
    if not parts:
        return []
    sign, num, den = parts
    value = Fraction(num, den)
    if terminates(value):
        return []  # terminating: the decimal is exact
    return [f"{sign}{float(value):.6f}"]


def build_corpus() -> list[Pair]:
    pairs: list[Pair] = []
    seen: set[tuple[str, str, str]] = set()

    def add(kind: str, reference: str, form: str, label: int | None, output: str | None = None) -> None:
        if output is None:
            output = form if "bare" in kind else boxed(form)
        pair = Pair(kind, reference, form, output, label)
        if pair.key not in seen:
            seen.add(pair.key)
            pairs.append(pair)

    for answer in load_answers():
        add("verbatim", answer, answer, 1)
        add("bare", answer, answer, 1)
        # Other ways a model marks its answer.
        add("format:dollars", answer, answer, 1, f"We simplify.\nSo the answer is ${answer}$.")
        add("format:answer-colon", answer, answer, 1, f"We simplify.\nAnswer: {answer}")
        add("format:minerva", answer, answer, 1,
            f"We simplify.\nFinal Answer: The final answer is ${answer}$. I hope it is correct.")
        for what, form in rewrites(answer):
            add(f"rewrite:{what}", answer, form, 1)
            add(f"rewrite-bare:{what}", answer, form, 1)
        for what, form in wrongs(answer):
            add(f"wrong:{what}", answer, form, 0)
        for form in rounded(answer):
            add("policy:rounded-decimal", answer, form, None)
    for what, reference, form in EXTRA_EQUAL:
        add(f"extra:{what}", reference, form, 1)
        add(f"extra-bare:{what}", reference, form, 1)
    for what, reference, form in EXTRA_WRONG:
        add(f"wrong:{what}", reference, form, 0)
    return pairs


if __name__ == "__main__":
    corpus = build_corpus()
    for p in corpus:
        print(json.dumps({"kind": p.kind, "reference": p.reference, "form": p.form, "output": p.output, "label": p.label}))


# ---- why lens and Math-Verify disagree ---------------------------------------

REASONS = {
    "no-delimiters": "LaTeX outside math delimiters (a bare answer, or after \"Answer:\"): Math-Verify's default "
                     "extraction reads none; it takes a number inside the answer (3 of 3\\sqrt{13}) or nothing",
    "cdot-i": "`7 \\cdot i`: Math-Verify does not match it with `7i` (the imaginary unit); lens reads both as i",
    "base": "a numeral in another base: Math-Verify drops the subscript (52_9 = 52), lens keeps it",
    "rounding": "Math-Verify compares numbers rounded to 6 decimal places (float_rounding=6): .0000673 = .0000672",
}


def disagreement_reason(pair: Pair, lens: int, math_verify: int) -> str:
    """The REASONS key for a pair on which the two checkers disagree, or 'unexplained'."""
    if lens == 1 and math_verify == 0 and pair.label == 1 and "$" not in pair.output.replace("\\$", "") and "\\boxed" not in pair.output:
        return "no-delimiters"
    if lens == 1 and math_verify == 0 and pair.label == 1 and "\\cdot i" in pair.form:
        return "cdot-i"
    if lens == 0 and math_verify == 1 and pair.label == 0 and re.search(r"\d_\{?\d", pair.form):
        return "base"
    if lens == 0 and math_verify == 1 and pair.label == 0 and re.fullmatch(r"-?\d*\.\d{7,}", pair.form):
        return "rounding"
    return "unexplained"


# ---- a false-positive sweep over real answers -------------------------------

def last_boxed(solution: str) -> str | None:
    """The argument of the last \\boxed{...} / \\fbox{...} of a MATH solution."""
    start = max(solution.rfind("\\boxed"), solution.rfind("\\fbox"))
    if start < 0:
        return None
    brace = solution.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for k in range(brace, len(solution)):
        if solution[k] == "{":
            depth += 1
        elif solution[k] == "}":
            depth -= 1
            if depth == 0:
                return solution[brace + 1 : k]
    return None


def symbolic_answers() -> list[str]:
    """Distinct final answers of MATH train + test with a variable (a letter
    outside commands), no \\text and no matrix: what the expression layer decides."""
    found: set[str] = set()
    for name in ("test.jsonl", "train.jsonl"):
        with open(data_dir() / name, encoding="utf-8") as f:
            for line in f:
                answer = last_boxed(json.loads(line)["solution"])
                if (answer and re.search(r"[a-z]", re.sub(r"\\[a-zA-Z]+", "", answer))
                        and "\\text" not in answer and "matrix" not in answer):
                    found.add(answer)
    return sorted(found)
