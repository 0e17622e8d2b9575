// The CPU policy losses against the plain double reference (loss, every
// metric, the gradient by finite differences of the reference's
// live/detached form), a hand-computed anchor, edge batches and bad inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lens/cpu/policy_loss.hpp"
#include "loss/loss_batches.hpp"

using loss_test::close;

namespace {

template <class Real, class Mask>
lens::policy_loss_metrics run(const loss_test::typed_batch<Real, Mask>& b, const lens::policy_loss_settings& s,
                              std::vector<Real>& grad) {
  grad.assign(b.n * b.t, Real(-7));
  return lens::cpu::compute_policy_loss(b.inputs(), s, lens::span<Real>(grad.data(), grad.size()));
}

void check_metrics(const lens::policy_loss_metrics& m, const lens_reference::loss_result& r, double rel,
                   double abs_tol, const std::string& what) {
  INFO(what);
  CHECK(close(m.loss, r.loss, rel, abs_tol));
  CHECK(close(m.pg_loss, r.pg_loss, rel, abs_tol));
  CHECK(close(m.kl_loss, r.kl_loss, rel, abs_tol));
  CHECK(close(m.kl_mean, r.kl_mean, rel, abs_tol));
  CHECK(m.pg_clipfrac == Approx(r.pg_clipfrac).margin(1e-12));
  CHECK(m.clipfrac_high == Approx(r.clipfrac_high).margin(1e-12));
  CHECK(m.clipfrac_low == Approx(r.clipfrac_low).margin(1e-12));
  CHECK(m.clipfrac_dual == Approx(r.clipfrac_dual).margin(1e-12));
  CHECK(close(m.ppo_kl, r.ppo_kl, rel, abs_tol));
  CHECK(close(m.is_weight_mean, r.is_mean, rel, abs_tol));
  CHECK(close(m.is_weight_min, r.is_min, rel, abs_tol));
  CHECK(close(m.is_weight_max, r.is_max, rel, abs_tol));
  CHECK(m.is_fraction_high == Approx(r.is_high).margin(1e-12));
  CHECK(m.is_fraction_low == Approx(r.is_low).margin(1e-12));
  CHECK(static_cast<double>(m.num_tokens) == r.tokens);
  CHECK(static_cast<double>(m.num_sequences) == r.sequences);
}

template <class Real>
void check_gradient(const std::vector<Real>& grad, const lens_reference::loss_result& r, double rel, double abs_tol,
                    const std::string& what) {
  REQUIRE(grad.size() == r.grad.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t k = 0; k < grad.size(); ++k)
    if (!close(double(grad[k]), r.grad[k], rel, abs_tol)) {
      if (bad++ == 0) first = k;
    }
  INFO(what << ": " << bad << " gradient entries differ; first at " << first << ": lens "
            << (grad.empty() ? 0.0 : double(grad[first])) << " reference " << (r.grad.empty() ? 0.0 : r.grad[first]));
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("policy loss: a hand-computed vanilla PPO batch (clip high, clip low, dual clip, unclipped)") {
  // One row, four tokens, old = -2, r = 1.5, 0.5, 4, 1.1 and A = 1, -1, -1, 2 (per token).
  // verl: pg = max(-A r, -A clip(r, 0.8, 1.2)), and min(., -A * 3) for A < 0:
  //   r=1.5, A=1:  max(-1.5, -1.2) = -1.2 (clipped high, gradient 0)
  //   r=0.5, A=-1: max(0.5, 0.8) = 0.8, min(3, 0.8) = 0.8 (clipped low, gradient 0)
  //   r=4,   A=-1: max(4, 1.2) = 4, min(3, 4) = 3 (dual clip, gradient 0)
  //   r=1.1, A=2:  -2.2, d/dlogp = -A r = -2.2
  // token-mean over 4: loss = (-1.2 + 0.8 + 3 - 2.2) / 4 = 0.1; grad[3] = -2.2 / 4 = -0.55.
  const double ratios[] = {1.5, 0.5, 4.0, 1.1};
  std::vector<double> logp, old(4, -2.0), adv = {1, -1, -1, 2}, ref(4, -2.0);
  for (double r : ratios) logp.push_back(-2.0 + std::log(r));
  std::vector<std::uint8_t> mask(4, 1);
  lens::policy_loss_inputs<double, std::uint8_t> in;
  in.num_samples = 1;
  in.num_tokens = 4;
  in.logprobs = {logp.data(), 4};
  in.old_logprobs = {old.data(), 4};
  in.mask = {mask.data(), 4};
  in.advantages = {adv.data(), 4};
  std::vector<double> grad(4, 9.0);
  const auto m = lens::compute_policy_loss(in, lens::policy_loss_settings{}, lens::span<double>(grad.data(), 4));
  CHECK(m.loss == Approx(0.1).epsilon(1e-12));
  CHECK(grad[0] == 0.0);
  CHECK(grad[1] == 0.0);
  CHECK(grad[2] == 0.0);
  CHECK(grad[3] == Approx(-0.55).epsilon(1e-12));
  CHECK(m.clipfrac_high == Approx(0.25));
  CHECK(m.clipfrac_low == Approx(0.25));
  CHECK(m.pg_clipfrac == Approx(0.5));
  CHECK(m.clipfrac_dual == Approx(0.25));
  CHECK(m.ppo_kl == Approx(-(std::log(1.5) + std::log(0.5) + std::log(4.0) + std::log(1.1)) / 4).epsilon(1e-12));
  CHECK(m.num_tokens == 4);
  CHECK(m.num_sequences == 1);
}

TEST_CASE("policy loss: every mode against the double reference (loss, metrics, gradient)") {
  std::mt19937_64 rng(20260601);
  const auto grid = loss_test::settings_grid();
  for (std::size_t g = 0; g < grid.size(); ++g) {
    const auto& s = grid[g];
    loss_test::batch_shape shape;
    shape.n = 1 + rng() % 9;
    shape.t = 1 + rng() % 24;
    shape.per_token_adv = (g % 3) == 1;
    const auto b = loss_test::random_batch(rng, shape);
    const auto ref = lens_reference::policy_loss(b, s);
    loss_test::typed_batch<double, std::uint8_t> tb(b);
    std::vector<double> grad;
    const auto m = run(tb, s, grad);
    const std::string what = loss_test::describe(s) + " N " + std::to_string(b.n) + " T " + std::to_string(b.t);
    check_metrics(m, ref, 1e-10, 1e-12, what);
    check_gradient(grad, ref, 1e-6, 1e-8, what);
  }
}

TEST_CASE("policy loss: float inputs and float mask against the double reference") {
  std::mt19937_64 rng(7);
  const auto grid = loss_test::settings_grid();
  for (std::size_t g = 0; g < grid.size(); g += 7) {
    loss_test::batch_shape shape;
    shape.n = 6;
    shape.t = 20;
    const auto b = loss_test::random_batch(rng, shape);
    const auto ref = lens_reference::policy_loss(b, grid[g]);
    loss_test::typed_batch<float, float> tb(b);
    std::vector<float> grad;
    const auto m = run(tb, grid[g], grad);
    INFO(loss_test::describe(grid[g]));
    CHECK(close(m.loss, ref.loss, 1e-4, 1e-6));
    CHECK(static_cast<double>(m.num_tokens) == ref.tokens);
    check_gradient(grad, ref, 1e-4, 1e-6, loss_test::describe(grid[g]));
  }
}

TEST_CASE("policy loss: per-sample advantages broadcast like the same advantages per token") {
  std::mt19937_64 rng(3);
  for (const auto& s : loss_test::settings_grid()) {
    if (s.kl != lens::kl_kind::none || s.is_level != lens::rollout_is_level::none) continue;
    loss_test::batch_shape shape;
    shape.n = 5;
    shape.t = 9;
    auto b = loss_test::random_batch(rng, shape);
    loss_test::typed_batch<double, std::uint8_t> per_sample(b);
    auto broadcast = b;
    broadcast.adv_per_token = true;
    broadcast.adv.clear();
    for (std::size_t i = 0; i < b.n; ++i)
      for (std::size_t c = 0; c < b.t; ++c) broadcast.adv.push_back(b.adv[i]);
    loss_test::typed_batch<double, std::int32_t> per_token(broadcast);
    std::vector<double> g1, g2;
    const auto m2 = run(per_token, s, g2);
    // bool masks: views of a plain array (std::vector<bool> has no data()).
    std::unique_ptr<bool[]> bmask(new bool[b.n * b.t]);
    for (std::size_t k = 0; k < b.n * b.t; ++k) bmask[k] = b.mask[k] > 0;
    const auto u8 = per_sample.inputs();
    lens::policy_loss_inputs<double, bool> in;
    in.num_samples = u8.num_samples;
    in.num_tokens = u8.num_tokens;
    in.logprobs = u8.logprobs;
    in.old_logprobs = u8.old_logprobs;
    in.advantages = u8.advantages;
    in.mask = {bmask.get(), b.n * b.t};
    g1.assign(b.n * b.t, -7);
    const auto m1 = lens::cpu::compute_policy_loss(in, s, lens::span<double>(g1.data(), g1.size()));
    INFO(loss_test::describe(s));
    CHECK(m1.loss == m2.loss);
    CHECK(m1.pg_clipfrac == m2.pg_clipfrac);
    CHECK(g1 == g2);
  }
}

TEST_CASE("policy loss: extreme log-prob gaps hit the ratio clamp at +-20") {
  std::mt19937_64 rng(11);
  for (const auto& s : loss_test::settings_grid()) {
    if (s.aggregation != lens::loss_aggregation::token_mean) continue;
    loss_test::batch_shape shape;
    shape.n = 4;
    shape.t = 12;
    shape.gap = 15.0;  // |logp - old| beyond 20 on some tokens
    auto b = loss_test::random_batch(rng, shape);
    for (std::size_t k = 0; k < b.logp.size(); k += 5) {  // force a few gaps of +-25 / -30
      b.logp[k] = -1.0;
      b.old[k] = (k % 2) ? -26.0 : std::min(0.0, b.logp[k] + 30.0) - 0.0;
      if (b.old[k] > 0) b.old[k] = 0;
      b.ref[k] = -31.0;
      b.roll[k] = (k % 2) ? -0.5 : -40.0;
    }
    const auto ref = lens_reference::policy_loss(b, s);
    loss_test::typed_batch<double, std::uint8_t> tb(b);
    std::vector<double> grad;
    const auto m = run(tb, s, grad);
    REQUIRE(std::isfinite(m.loss));
    check_metrics(m, ref, 1e-10, 1e-12, loss_test::describe(s));
    check_gradient(grad, ref, 1e-6, 1e-8, loss_test::describe(s));
  }
}

TEST_CASE("policy loss: all-masked rows and an all-masked batch, zero advantages") {
  std::mt19937_64 rng(5);
  loss_test::batch_shape shape;
  shape.n = 6;
  shape.t = 10;
  shape.masked_rows = 0.5;
  for (const auto& s : loss_test::settings_grid()) {
    if (s.kl != lens::kl_kind::k3 && s.kl != lens::kl_kind::none) continue;
    auto b = loss_test::random_batch(rng, shape);
    for (std::size_t c = 0; c < b.t; ++c) b.mask[c] = 0;  // row 0 is always empty
    const auto ref = lens_reference::policy_loss(b, s);
    loss_test::typed_batch<double, std::uint8_t> tb(b);
    std::vector<double> grad;
    const auto m = run(tb, s, grad);
    check_metrics(m, ref, 1e-10, 1e-12, loss_test::describe(s));
    check_gradient(grad, ref, 1e-6, 1e-8, loss_test::describe(s));
    for (std::size_t c = 0; c < b.t; ++c) CHECK(grad[c] == 0.0);

    // Nothing unmasked at all: loss, metrics and gradient are 0 (verl would divide 0 by 0).
    std::fill(tb.mask.begin(), tb.mask.end(), 0);
    const auto empty = run(tb, s, grad);
    CHECK(empty.loss == 0.0);
    CHECK(empty.num_tokens == 0);
    CHECK(empty.is_weight_max == 0.0);
    for (double x : grad) CHECK(x == 0.0);
  }
  SECTION("zero advantages: the policy term and its gradient vanish, the KL term stays") {
    auto b = loss_test::random_batch(rng, shape);
    std::fill(b.adv.begin(), b.adv.end(), 0.0);
    for (auto kind : {lens::policy_loss_kind::vanilla, lens::policy_loss_kind::gspo, lens::policy_loss_kind::cispo,
                      lens::policy_loss_kind::sapo, lens::policy_loss_kind::two_sided}) {
      lens::policy_loss_settings s;
      s.kind = kind;
      loss_test::typed_batch<double, std::uint8_t> tb(b);
      std::vector<double> grad;
      const auto m = run(tb, s, grad);
      CHECK(m.pg_loss == 0.0);
      for (double x : grad) CHECK(x == 0.0);
      s.kl = lens::kl_kind::k3;
      const auto with_kl = run(tb, s, grad);
      const auto ref = lens_reference::policy_loss(b, s);
      CHECK(close(with_kl.loss, ref.loss, 1e-10, 1e-12));
      check_gradient(grad, ref, 1e-6, 1e-8, "zero advantages + k3");
    }
  }
}

TEST_CASE("policy loss: global token and sequence counts replace the batch's (micro-batches, TRL dapo / dr_grpo)") {
  std::mt19937_64 rng(9);
  loss_test::batch_shape shape;
  shape.n = 8;
  shape.t = 16;
  const auto b = loss_test::random_batch(rng, shape);
  loss_test::typed_batch<double, std::uint8_t> tb(b);
  lens::policy_loss_settings s;
  s.kind = lens::policy_loss_kind::two_sided;
  std::vector<double> local_grad, global_grad;
  const auto local = run(tb, s, local_grad);
  s.global_token_count = 4.0 * static_cast<double>(local.num_tokens);  // this micro-batch is a quarter of the step
  const auto global = run(tb, s, global_grad);
  CHECK(global.loss == Approx(local.loss / 4).epsilon(1e-12));
  for (std::size_t k = 0; k < local_grad.size(); ++k) CHECK(global_grad[k] == Approx(local_grad[k] / 4).epsilon(1e-12));
  const auto ref = lens_reference::policy_loss(b, s);
  CHECK(close(global.loss, ref.loss, 1e-10, 1e-12));
  s.aggregation = lens::loss_aggregation::seq_mean_token_sum_norm;
  s.global_sequence_count = static_cast<double>(b.n);  // TRL dr_grpo divides by B * max_completion_length
  s.loss_scale_factor = 32;
  const auto dr = run(tb, s, global_grad);
  const auto ref_dr = lens_reference::policy_loss(b, s);
  CHECK(close(dr.loss, ref_dr.loss, 1e-10, 1e-12));
  check_gradient(global_grad, ref_dr, 1e-6, 1e-8, "dr_grpo");
}

TEST_CASE("policy loss: an empty gradient span computes the loss and metrics only") {
  std::mt19937_64 rng(13);
  const auto b = loss_test::random_batch(rng, loss_test::batch_shape{});
  loss_test::typed_batch<double, std::uint8_t> tb(b);
  std::vector<double> grad;
  const auto with = run(tb, lens::policy_loss_settings{}, grad);
  const auto without = lens::cpu::compute_policy_loss(tb.inputs(), lens::policy_loss_settings{}, lens::span<double>());
  CHECK(with.loss == without.loss);
  CHECK(with.pg_clipfrac == without.pg_clipfrac);
}

namespace {

/// Runs one bad call: it must throw lens::invalid_argument whose message holds
/// `expected`, and leave the gradient buffer as it was.
template <class Real, class Mask>
void expect_rejected(const lens::policy_loss_inputs<Real, Mask>& in, const lens::policy_loss_settings& s,
                     const std::string& expected, std::size_t grad_size) {
  std::vector<Real> grad(grad_size, Real(-7));
  std::string message;
  try {
    lens::cpu::compute_policy_loss(in, s, lens::span<Real>(grad.data(), grad.size()));
  } catch (const lens::invalid_argument& e) {
    message = e.what();
  }
  INFO("expected: " << expected << "\ngot: " << message);
  CHECK(message.find(expected) != std::string::npos);
  for (Real x : grad) CHECK(x == Real(-7));
}

}  // namespace

TEST_CASE("policy loss: bad inputs throw a named error and write nothing") {
  std::mt19937_64 rng(17);
  loss_test::batch_shape shape;
  shape.n = 3;
  shape.t = 5;
  shape.masked_rows = 0;
  auto b = loss_test::random_batch(rng, shape);
  for (auto& m : b.mask) m = 1;  // every token unmasked except where a case says
  b.mask[7] = 0;
  const std::size_t nt = b.n * b.t;
  lens::policy_loss_settings s;

  SECTION("NaN and positive log-probs at unmasked positions; the same at a masked position is accepted") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    {
      loss_test::typed_batch<double, std::uint8_t> tb(b);
      tb.logp[6] = nan;
      expect_rejected(tb.inputs(), s, "inputs.logprobs[6] is not finite", nt);
    }
    {
      loss_test::typed_batch<double, std::uint8_t> tb(b);
      tb.old[11] = 0.5;
      expect_rejected(tb.inputs(), s, "inputs.old_logprobs[11] is a log-probability above 0", nt);
    }
    {
      loss_test::typed_batch<double, std::uint8_t> tb(b);
      tb.ref[2] = std::numeric_limits<double>::infinity();
      auto with_kl = s;
      with_kl.kl = lens::kl_kind::k3;
      expect_rejected(tb.inputs(), with_kl, "inputs.ref_logprobs[2] is not finite", nt);
      std::vector<double> grad(nt);
      CHECK_NOTHROW(lens::cpu::compute_policy_loss(tb.inputs(), s, lens::span<double>(grad.data(), nt)));  // no KL: ref unread
    }
    {
      loss_test::typed_batch<double, std::uint8_t> tb(b);
      tb.roll[3] = 2.0;
      auto with_is = s;
      with_is.is_level = lens::rollout_is_level::token;
      expect_rejected(tb.inputs(), with_is, "inputs.rollout_logprobs[3] is a log-probability above 0", nt);
    }
    {
      loss_test::typed_batch<double, std::uint8_t> tb(b);
      tb.adv[1] = nan;
      expect_rejected(tb.inputs(), s, "inputs.advantages[1] is not finite", nt);
    }
    {
      loss_test::typed_batch<double, std::uint8_t> tb(b);
      tb.logp[7] = nan;  // masked
      tb.old[7] = 3.0;
      std::vector<double> grad(nt);
      const auto m = lens::cpu::compute_policy_loss(tb.inputs(), s, lens::span<double>(grad.data(), nt));
      CHECK(std::isfinite(m.loss));
      CHECK(grad[7] == 0.0);
    }
  }
  SECTION("mask values other than 0 and 1") {
    loss_test::typed_batch<double, std::uint8_t> tb(b);
    tb.mask[9] = 2;
    expect_rejected(tb.inputs(), s, "inputs.mask[9] is a mask value other than 0 or 1", nt);
  }
  SECTION("shapes") {
    loss_test::typed_batch<double, std::uint8_t> tb(b);
    auto in = tb.inputs();
    in.old_logprobs = {tb.old.data(), nt - 1};
    expect_rejected(in, s, "inputs.old_logprobs has the wrong size", nt);
    in = tb.inputs();
    in.advantages = {tb.adv.data(), 2};
    expect_rejected(in, s, "inputs.advantages has the wrong size", nt);
    in = tb.inputs();
    in.ref_logprobs = {};
    auto with_kl = s;
    with_kl.kl = lens::kl_kind::k1;
    expect_rejected(in, with_kl, "inputs.ref_logprobs has the wrong size", nt);
    in = tb.inputs();
    in.rollout_logprobs = {};
    auto with_is = s;
    with_is.is_level = lens::rollout_is_level::sequence;
    expect_rejected(in, with_is, "inputs.rollout_logprobs has the wrong size", nt);
    expect_rejected(tb.inputs(), s, "outputs.grad_logprobs has the wrong size", nt + 1);
  }
  SECTION("settings out of range") {
    loss_test::typed_batch<double, std::uint8_t> tb(b);
    const auto in = tb.inputs();
    auto bad = s;
    bad.clip_ratio_c = 1.0;
    expect_rejected(in, bad, "settings.clip_ratio_c is a setting out of its range", nt);
    bad = s;
    bad.clip_ratio_low = 1.5;
    expect_rejected(in, bad, "settings.clip_ratio_low", nt);
    bad = s;
    bad.clip_ratio_high = -0.1;
    expect_rejected(in, bad, "settings.clip_ratio_high", nt);
    bad = s;
    bad.kind = lens::policy_loss_kind::sapo;
    bad.tau_neg = 0;
    expect_rejected(in, bad, "settings.tau_neg", nt);
    bad = s;
    bad.is_level = lens::rollout_is_level::token;
    bad.is_threshold_low = 2.0;
    expect_rejected(in, bad, "settings.is_threshold_low", nt);
    bad = s;
    bad.kl_coef = std::numeric_limits<double>::quiet_NaN();
    expect_rejected(in, bad, "settings.kl_coef", nt);
    bad = s;
    bad.kind = static_cast<lens::policy_loss_kind>(42);
    expect_rejected(in, bad, "settings.kind", nt);
    bad = s;
    bad.global_token_count = -1;
    expect_rejected(in, bad, "settings.global_token_count", nt);
    // clip_ratio_c is vanilla's only: gspo accepts it as it is.
    bad = s;
    bad.kind = lens::policy_loss_kind::gspo;
    bad.clip_ratio_c = 0.5;
    std::vector<double> grad(nt);
    CHECK_NOTHROW(lens::cpu::compute_policy_loss(in, bad, lens::span<double>(grad.data(), nt)));
  }
}
