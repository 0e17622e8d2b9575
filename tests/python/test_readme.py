"""The README's Python quick start runs as written and says what it shows."""

from __future__ import annotations

import pathlib
import re

import torch

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_quick_start():
    text = README.read_text()
    section = text[text.index("## Python (verl, TRL)"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    out, grpo = scope["out"], scope["grpo"]
    assert out.summary["num_negative_groups"] == 1
    assert out.summary["negative_group_fraction"] == 0.5
    assert torch.equal(out.token_advantages, out.advantages.unsqueeze(-1) * scope["response_mask"])
    # the negative group q2 carries gradient under LENS, none under GRPO
    assert torch.all(grpo.advantages[[1, 3]] == 0) and torch.all(out.advantages[[1, 3]] != 0)
