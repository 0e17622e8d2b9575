"""lens inside torch.compile(fullgraph=True): the custom op has a fake
implementation, so the graph compiles without a break and gives the eager
result."""

from __future__ import annotations

import torch

import lens
from conftest import make_batch


def test_compiled_step_matches_eager(rng):
    batch = make_batch(rng, num_groups=8, max_group=16)
    numbers = {u: k for k, u in enumerate(dict.fromkeys(batch.uid))}
    ids = torch.tensor([numbers[u] for u in batch.uid], dtype=torch.int64)

    def step(rewards, mask, ids, logp):
        out = lens.compute_advantages(rewards, mask, ids, logp, alpha=0.5)
        return out.token_advantages * 2.0, out.summary_tensor

    eager = step(batch.token_level_rewards, batch.response_mask, ids, batch.old_log_probs)
    compiled = torch.compile(step, fullgraph=True, backend="eager")
    got = compiled(batch.token_level_rewards, batch.response_mask, ids, batch.old_log_probs)
    assert torch.equal(got[0], eager[0]) and torch.equal(got[1], eager[1])
    assert torch.any(got[0] != 0)


def test_op_is_registered_with_a_fake_kernel(rng):
    batch = make_batch(rng, num_groups=4, max_group=4)
    ids = torch.arange(batch.num_samples) % 4
    args = (batch.token_level_rewards, batch.response_mask, ids, batch.old_log_probs, 0,
            *lens.settings.settings_args(lens.presets.lens()))
    torch.library.opcheck(torch.ops.lens.token_advantages.default, args,
                          test_utils=("test_schema", "test_faketensor"))


def test_inductor_graph(rng):
    batch = make_batch(rng, num_groups=4, max_group=8)
    ids = torch.arange(batch.num_samples) % 4

    @torch.compile(fullgraph=True)
    def loss_weights(rewards, mask, ids, logp):
        return lens.compute_advantages(rewards, mask, ids, logp).token_advantages.abs().sum()

    eager = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, ids,
                                    batch.old_log_probs).token_advantages.abs().sum()
    assert torch.allclose(loss_weights(batch.token_level_rewards, batch.response_mask, ids, batch.old_log_probs),
                          eager)
