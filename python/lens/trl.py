"""TRL's GRPOTrainer with LENS advantages.

    from lens.trl import LensGRPOTrainer
    trainer = LensGRPOTrainer(model=..., reward_funcs=..., args=GRPOConfig(...),
                              train_dataset=..., lens_settings=lens.presets.lens())
    trainer.train()

Everything is TRL's (generation, rewards, loss, logging) except the
advantages: after TRL has scored a generation batch, the trainer recomputes
them with lens from the same rewards (TRL's weighted sum of the reward
functions, gathered over processes) and the completions' behaviour
log-probs: the ``old_per_token_logps`` TRL already has, or, when TRL skipped
them (generation aligned with the optimizer step, so pi_old = pi_theta), one
no-grad forward pass of the model as it was when it generated. Per-sample sums
and lengths are gathered over processes (two numbers a sample), so groups that
span processes see all their samples, as TRL's own rewards do.

LENS needs rewards in [0, 1] (binary or fractional correctness); another
range raises ValueError naming the sample. Metrics ``lens/negative_group_fraction``
and ``lens/gradient_sample_fraction`` are logged with TRL's.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from trl import GRPOTrainer

from .advantages import compute_sequence_advantages
from .settings import Settings, make_settings, presets


def trl_lens_settings() -> Settings:
    """LENS with TRL's GRPO anchors: epsilon 1e-4, singletons 0, and TRL's rule
    for unscorable completions (a NaN reward: out of its group, advantage 0)."""
    return make_settings(presets.lens(), epsilon=1e-4, singleton="zero", skip_nan_scores=True)


class LensGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose advantages are LENS's (or any lens estimator's)."""

    def __init__(self, *args: Any, lens_settings: Optional[Settings] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lens_settings = make_settings(lens_settings or trl_lens_settings())
        self._lens_rewards_per_func: Optional[torch.Tensor] = None
        self.last_trl_advantages: Optional[torch.Tensor] = None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._lens_rewards_per_func = rewards_per_func  # every process's rows, as TRL normalises them
        return rewards_per_func

    def _behaviour_logprobs(self, output: dict[str, Any], mode: str) -> torch.Tensor:
        old = output.get("old_per_token_logps")
        if old is not None:
            return old
        prompt_completion_ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
        attention_mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
        batch_size = self.args.per_device_train_batch_size if mode == "train" else self.args.per_device_eval_batch_size
        with torch.no_grad():
            logps, _, _ = self._get_per_token_logps_and_entropies(
                self.model, prompt_completion_ids, attention_mask, output["completion_ids"].size(1), batch_size=batch_size
            )
        return logps

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        self.last_trl_advantages = output["advantages"]  # what TRL computed, for comparison and logging
        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval

        rewards_per_func = self._lens_rewards_per_func
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        rewards = (rewards_per_func * weights).nansum(dim=1)
        rewards[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan  # unscorable, as TRL marks it

        mask = output["completion_mask"]
        logps = self._behaviour_logprobs(output, mode)
        sums = (logps.float() * mask).sum(dim=1)
        lengths = mask.sum(dim=1).to(torch.int64)
        sums = self.accelerator.gather(sums).cpu()
        lengths = self.accelerator.gather(lengths).cpu()

        result = compute_sequence_advantages(
            rewards.float().cpu(), None, sums, lengths, group_size=group_size, settings=self.lens_settings
        )
        local = len(mask)
        start = self.accelerator.process_index * local
        output["advantages"] = result.advantages[start : start + local].to(mask.device)
        summary = result.summary
        self._metrics[mode]["lens/negative_group_fraction"].append(summary["negative_group_fraction"])
        self._metrics[mode]["lens/gradient_sample_fraction"].append(summary["gradient_sample_fraction"])
        return output
