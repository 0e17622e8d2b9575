// lens::torch::policy_loss (a torch::autograd::Function) against the trainers'
// losses written as eager LibTorch ops (verl_eager.hpp) with torch autograd:
// loss, verl's metrics and the gradient, every mode; backward scaling; no_grad;
// bad tensors.
// LibTorch first: it brings glog's CHECK, which Catch's CHECK must replace.
#include <torch/torch.h>

#include "lens/torch/policy_loss.hpp"
#include "loss/verl_eager.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "loss/loss_batches.hpp"

namespace {

struct tensors {
  at::Tensor logp, old, ref, roll, mask, adv;
};

tensors to_tensors(const lens_reference::loss_batch& b, at::ScalarType real, at::ScalarType mask_type) {
  const auto n = static_cast<std::int64_t>(b.n), t = static_cast<std::int64_t>(b.t);
  auto make = [&](const std::vector<double>& v, std::vector<std::int64_t> sizes) {
    return torch::tensor(v, torch::kFloat64).reshape(sizes).to(real).contiguous();
  };
  tensors x;
  x.logp = make(b.logp, {n, t});
  x.old = make(b.old, {n, t});
  x.ref = make(b.ref, {n, t});
  x.roll = make(b.roll, {n, t});
  x.mask = torch::tensor(b.mask, torch::kFloat64).reshape({n, t}).to(mask_type).contiguous();
  x.adv = b.adv_per_token ? make(b.adv, {n, t}) : make(b.adv, {n});
  return x;
}

bool all_close(const at::Tensor& a, const at::Tensor& b, double rel, double abs_tol) {
  return at::allclose(a.to(torch::kFloat64), b.to(torch::kFloat64), rel, abs_tol);
}

}  // namespace

TEST_CASE("torch policy loss: every mode matches verl's eager ops and autograd (float64)") {
  std::mt19937_64 rng(21);
  for (const auto& s : loss_test::settings_grid()) {
    loss_test::batch_shape shape;
    shape.n = 2 + rng() % 8;
    shape.t = 1 + rng() % 30;
    shape.per_token_adv = rng() % 2;
    const auto b = loss_test::random_batch(rng, shape);
    const auto x = to_tensors(b, torch::kFloat64, torch::kFloat64);

    at::Tensor lp_ref = x.logp.clone().requires_grad_(true);
    const auto eager = verl_eager::loss(x.old, lp_ref, x.adv, x.mask, s, x.ref, x.roll);
    eager.loss.backward();

    at::Tensor lp = x.logp.clone().requires_grad_(true);
    const auto out = lens::torch::policy_loss(lp, x.old, x.adv, x.mask, s, x.ref, x.roll);
    out.loss.backward();

    INFO(loss_test::describe(s) << " N " << b.n << " T " << b.t);
    if (std::isnan(eager.loss.item<double>())) {  // nothing unmasked: verl divides 0 by 0, lens returns 0
      CHECK(out.metrics.num_tokens == 0);
      CHECK(out.loss.item<double>() == 0.0);
      CHECK(lp.grad().abs().sum().item<double>() == 0.0);
      continue;
    }
    CHECK(out.loss.item<double>() == Approx(eager.loss.item<double>()).epsilon(1e-6).margin(1e-12));
    CHECK(all_close(lp.grad(), lp_ref.grad(), 1e-6, 1e-12));
    CHECK(out.metrics.ppo_kl == Approx(eager.ppo_kl).epsilon(1e-6).margin(1e-12));
    if (s.kind != lens::policy_loss_kind::sapo)
      CHECK(out.metrics.pg_clipfrac == Approx(eager.pg_clipfrac).epsilon(1e-6).margin(1e-12));
    CHECK(out.metrics.clipfrac_dual == Approx(eager.pg_clipfrac_lower).epsilon(1e-6).margin(1e-12));
  }
}

TEST_CASE("torch policy loss: float32 with bool and uint8 masks matches float32 eager ops") {
  std::mt19937_64 rng(22);
  const auto grid = loss_test::settings_grid();
  for (std::size_t g = 0; g < grid.size(); g += 9) {
    const auto& s = grid[g];
    loss_test::batch_shape shape;
    shape.n = 16;
    shape.t = 64;
    const auto b = loss_test::random_batch(rng, shape);
    for (auto mask_type : {torch::kBool, torch::kUInt8}) {
      const auto x = to_tensors(b, torch::kFloat32, mask_type);
      at::Tensor lp_ref = x.logp.clone().requires_grad_(true);
      const auto eager = verl_eager::loss(x.old, lp_ref, x.adv, x.mask, s, x.ref, x.roll);
      eager.loss.backward();
      at::Tensor lp = x.logp.clone().requires_grad_(true);
      const auto out = lens::torch::policy_loss(lp, x.old, x.adv, x.mask, s, x.ref, x.roll);
      out.loss.backward();
      INFO(loss_test::describe(s));
      CHECK(out.loss.scalar_type() == torch::kFloat32);
      CHECK(out.loss.item<double>() == Approx(eager.loss.item<double>()).epsilon(1e-4).margin(1e-6));
      CHECK(all_close(lp.grad(), lp_ref.grad(), 1e-4, 1e-7));
    }
  }
}

TEST_CASE("torch policy loss: backward scales the saved gradient; no_grad computes none") {
  std::mt19937_64 rng(23);
  const auto b = loss_test::random_batch(rng, loss_test::batch_shape{});
  const auto x = to_tensors(b, torch::kFloat64, torch::kBool);
  lens::policy_loss_settings s;
  at::Tensor lp1 = x.logp.clone().requires_grad_(true);
  lens::torch::policy_loss(lp1, x.old, x.adv, x.mask, s).loss.backward();
  at::Tensor lp3 = x.logp.clone().requires_grad_(true);
  (-3.0 * lens::torch::policy_loss(lp3, x.old, x.adv, x.mask, s).loss).backward();
  CHECK(all_close(lp3.grad(), -3.0 * lp1.grad(), 1e-12, 0));
  CHECK(lp1.grad().abs().sum().item<double>() > 0);
  {
    torch::NoGradGuard guard;
    const auto out = lens::torch::policy_loss(lp1, x.old, x.adv, x.mask, s);
    CHECK(!out.loss.requires_grad());
  }
  const auto plain = lens::torch::policy_loss(x.logp, x.old, x.adv, x.mask, s);
  CHECK(plain.loss.item<double>() == Approx(lens::torch::policy_loss(lp1, x.old, x.adv, x.mask, s).loss.item<double>()));
}

TEST_CASE("torch policy loss: bad tensors are named") {
  std::mt19937_64 rng(24);
  auto b = loss_test::random_batch(rng, loss_test::batch_shape{});
  const auto x = to_tensors(b, torch::kFloat32, torch::kBool);
  lens::policy_loss_settings s;
  auto message = [&](auto&& call) {
    try {
      call();
    } catch (const lens::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message([&] { lens::torch::policy_loss(x.logp, x.old.to(torch::kFloat64), x.adv, x.mask, s); })
            .find("old_log_prob has dtype") != std::string::npos);
  CHECK(message([&] { lens::torch::policy_loss(x.logp, x.old, x.adv.unsqueeze(0), x.mask, s); })
            .find("advantages has sizes") != std::string::npos);
  CHECK(message([&] { lens::torch::policy_loss(x.logp, x.old, x.adv, x.mask.t(), s); })
            .find("response_mask") != std::string::npos);
  auto with_kl = s;
  with_kl.kl = lens::kl_kind::k3;
  CHECK(message([&] { lens::torch::policy_loss(x.logp, x.old, x.adv, x.mask, with_kl); })
            .find("ref_log_prob is an undefined tensor") != std::string::npos);
  at::Tensor bad = x.logp.clone();
  bad.index_put_({0, 0}, 0.5);
  at::Tensor mask = x.mask.clone();
  mask.index_put_({0, 0}, true);
  CHECK(message([&] { lens::torch::policy_loss(bad, x.old, x.adv, mask, s); })
            .find("inputs.logprobs[0] is a log-probability above 0") != std::string::npos);
}

TEST_CASE("torch policy loss: examples/math_rl's PPO-clip (two-sided, no delta, token-mean) equals its former torch ops") {
  // The example's loss before it used lens:
  //   ratio = exp(logp - old); -(min(ratio A, clamp(ratio, 1 - clip, 1 + clip) A) * mask).sum() / mask.sum()
  std::mt19937_64 rng(25);
  loss_test::batch_shape shape;
  shape.n = 32;
  shape.t = 24;
  shape.per_token_adv = true;
  shape.masked_rows = 0;
  const auto b = loss_test::random_batch(rng, shape);
  const auto x = to_tensors(b, torch::kFloat32, torch::kFloat32);
  const double clip = 0.2;
  at::Tensor lp_ref = x.logp.clone().requires_grad_(true);
  const at::Tensor ratio = torch::exp(lp_ref - x.old);
  const at::Tensor loss_ref =
      -(torch::min(ratio * x.adv, torch::clamp(ratio, 1.0 - clip, 1.0 + clip) * x.adv) * x.mask).sum() / x.mask.sum();
  loss_ref.backward();
  lens::policy_loss_settings s;
  s.kind = lens::policy_loss_kind::two_sided;
  s.clip_ratio_low = s.clip_ratio_high = clip;
  at::Tensor lp = x.logp.clone().requires_grad_(true);
  lens::torch::policy_loss(lp, x.old, x.adv, x.mask, s).loss.backward();
  at::Tensor lp2 = x.logp.clone().requires_grad_(true);
  const at::Tensor loss = lens::torch::policy_loss(lp2, x.old, x.adv, x.mask, s).loss;
  CHECK(loss.item<double>() == Approx(loss_ref.item<double>()).epsilon(1e-5));
  CHECK(all_close(lp.grad(), lp_ref.grad(), 1e-5, 1e-8));
}
