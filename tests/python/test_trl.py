"""TRL's GRPOTrainer (trl installed from PyPI) with lens: a few real steps of
lens.trl.LensGRPOTrainer on a tiny randomly initialised Llama built from a
config, with a character tokenizer built in code (nothing downloaded); and
lens's GRPO against the advantages TRL itself computed in the same steps."""

from __future__ import annotations

import warnings

import pytest
import torch

warnings.filterwarnings("ignore")
trl = pytest.importorskip("trl")
transformers = pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")

import lens  # noqa: E402
from lens.trl import LensGRPOTrainer  # noqa: E402

CHARACTERS = list("0123456789+=? abcdefghijklmnopqrstuvwxyz")
GROUP = 4


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "<eos>": 1, **{c: k + 2 for k, c in enumerate(CHARACTERS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<eos>")
    fast.padding_side = "left"
    return fast


def tiny_model(vocab_size):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=64, pad_token_id=0, eos_token_id=1, bos_token_id=1)
    return transformers.LlamaForCausalLM(config)


def digit_reward(completions, **kwargs):
    """1 when the completion starts with a digit: about a fifth of random
    completions, so a batch has negative groups and mixed ones."""
    return [1.0 if c[:1].isdigit() else 0.0 for c in completions]


def make_trainer(tmp_path, cls, steps=3, **kwargs):
    tokenizer = tiny_tokenizer()
    prompts = [f"{a}+{b}=" for a in range(6) for b in range(6)]
    args = trl.GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=GROUP,
                          max_completion_length=6, max_steps=steps, learning_rate=5e-3, logging_steps=1,
                          report_to=[], use_cpu=True, seed=0, save_strategy="no", temperature=1.0,
                          dataloader_num_workers=0, bf16=False)
    return cls(model=tiny_model(len(tokenizer)), processing_class=tokenizer, reward_funcs=[digit_reward], args=args,
               train_dataset=datasets.Dataset.from_dict({"prompt": prompts}), **kwargs)


class Recording(LensGRPOTrainer):
    """Keeps, per generation batch, TRL's own advantages and lens's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = []

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        self.records.append((self.last_trl_advantages.clone(), out["advantages"].clone(),
                             self._lens_rewards_per_func.clone()))
        return out


def test_lens_grpo_trainer_steps(tmp_path):
    trainer = make_trainer(tmp_path, Recording)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train()
    after = list(trainer.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before)), "parameters did not move"
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    found_negative = False
    for trl_advantages, lens_advantages, rewards in trainer.records:
        groups = rewards[:, 0].view(-1, GROUP)
        negative = (groups == 0).all(dim=1)
        ours = lens_advantages.view(-1, GROUP)
        theirs = trl_advantages.view(-1, GROUP)
        if negative.any():
            found_negative = True
            assert torch.all(theirs[negative] == 0), "TRL gives negative groups 0"
            assert torch.any(ours[negative] != 0), "LENS gives negative groups gradient"
        mixed = ~negative & ~(groups == 1).all(dim=1)
        # mixed groups keep GRPO's signs: correct > 0 > wrong
        assert torch.all((ours[mixed] > 0) == (groups[mixed] > 0))
    assert found_negative
    logged = [e for e in trainer.state.log_history if "lens/negative_group_fraction" in e]
    assert logged and 0 <= logged[0]["lens/negative_group_fraction"] <= 1


def test_lens_trl_grpo_matches_trls_own_advantages(tmp_path):
    """With lens.presets.trl_grpo(), lens's advantages are TRL's (same rewards,
    same steps), to float32 rounding."""
    trainer = make_trainer(tmp_path, Recording, steps=2, lens_settings=lens.presets.trl_grpo())
    trainer.train()
    assert trainer.records
    for trl_advantages, lens_advantages, rewards in trainer.records:
        # float64 truth: TRL's formula on float64 rewards (group mean, Bessel std, + 1e-4)
        r = rewards[:, 0].double().view(-1, GROUP)
        truth = ((r - r.mean(dim=1, keepdim=True)) / (r.std(dim=1, keepdim=True) + 1e-4)).view(-1)
        lens_error = float((lens_advantages.double() - truth).abs().max())
        trl_error = float((trl_advantages.double() - truth).abs().max())
        assert lens_error <= trl_error + 2.0**-24 * float(truth.abs().max())


def test_nan_rewards_follow_trls_rule():
    """Unscorable completions (NaN reward): TRL's own nanmean / nanstd
    (trl.trainer.utils.nanstd) against lens with skip_nan_scores."""
    from trl.trainer.utils import nanstd

    g = torch.Generator().manual_seed(3)
    rewards = (torch.rand(64, generator=g) < 0.4).float()
    rewards[torch.rand(64, generator=g) < 0.2] = float("nan")
    rewards[8:12] = float("nan")  # a group with no score at all
    grouped = rewards.view(-1, GROUP)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(GROUP)
    std = nanstd(grouped, dim=1).repeat_interleave(GROUP)
    trl32 = torch.nan_to_num((rewards - mean) / (std + 1e-4), nan=0.0)
    r64 = rewards.double().view(-1, GROUP)
    truth = torch.nan_to_num((r64.view(-1) - torch.nanmean(r64, dim=1).repeat_interleave(GROUP))
                             / (nanstd(r64, dim=1).repeat_interleave(GROUP) + 1e-4), nan=0.0)
    settings = lens.make_settings(lens.presets.trl_grpo(), skip_nan_scores=True)
    ours = lens.compute_sequence_advantages(rewards, group_size=GROUP, settings=settings).advantages
    assert torch.all(ours[torch.isnan(rewards)] == 0)
    lens_error = float((ours.double() - truth).abs().max())
    trl_error = float((trl32.double() - truth).abs().max())
    assert lens_error <= trl_error + 2.0**-24 * float(truth.abs().max())
    # without the setting a NaN reward is an error, named
    with pytest.raises(ValueError, match=r"lens: scores\[\d+\] is not finite"):
        lens.compute_sequence_advantages(rewards, group_size=GROUP, settings=lens.presets.trl_grpo())
