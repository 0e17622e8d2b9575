// lens/cpu/distributed.hpp: advantages when a group's samples live on several
// processes (data-parallel ranks). Each rank holds its own samples with their
// group ids; the ranks exchange O(groups) words, never samples, and each gets
// exactly the advantages of its samples that one process would compute on the
// concatenated batch (rank 0's samples, then rank 1's, ...). The transport is
// the caller's: MPI_Allgather, c10d, torch.distributed (lens.distributed), or
// anything that gives every rank every rank's buffer in rank order.
//
//   lens::cpu::distributed_batch batch(inputs, lens::id_groups{ids}, settings);
//   for (std::size_t e = 0; e < batch.num_exchanges(); ++e) {     // 1, or 2 for LENS
//     std::size_t stride = batch.exchange_words(e, capacity);      // words per rank
//     std::vector<std::uint64_t> mine(stride), all(stride * num_ranks);
//     batch.write(e, mine);
//     MPI_Allgather(mine.data(), stride, MPI_UINT64_T, all.data(), stride, MPI_UINT64_T, comm);
//     if (std::size_t needed = batch.merge(e, all, num_ranks, rank)) { capacity = needed; --e; }  // grow, redo
//   }
//   batch.finish(advantages);                                     // or finish(token inputs, ...)
//
// lens::cpu::run_distributed() is that loop over a callable all-gather.
// A rank whose input is rejected builds distributed_batch::failed(message) and
// still takes part in the first exchange: merge() then throws the same
// lens::invalid_argument on every rank, so no rank waits on another. The same
// holds for settings that differ between ranks (a hash travels in the header),
// group ids of different kinds, and a hash collision of two group keys.
// See docs/DISTRIBUTED.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lens/core/errors.hpp"
#include "lens/core/group_math.hpp"
#include "lens/core/groups.hpp"
#include "lens/core/partials.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/advantages.hpp"
#include "lens/cpu/engine.hpp"
#include "lens/cpu/group_index.hpp"
#include "lens/cpu/rows.hpp"

namespace lens {
namespace cpu {

/// How a rank's group ids were made; ranks that have samples must agree.
enum class id_kind : std::uint64_t {
  none = 0,    ///< no samples on this rank
  int64 = 1,   ///< the caller's int64 ids, taken as they are
  hashed = 2,  ///< 64-bit hashes of the caller's keys (verl's uid strings), with a second hash as check
  local = 3,   ///< groups that never leave their rank (a fixed group size dividing each rank's N), rank-tagged ids
};

/// One rank's part of a distributed advantage computation: its samples' group
/// partials, the exchanges, the merged statistics and the finish step.
class distributed_batch {
 public:
  /// TRL's NaN rule (settings.skip_nan_scores) is single-process only for now.
  static void check_supported(const advantage_settings& settings) {
    core::check_setting(!settings.skip_nan_scores, "skip_nan_scores", 1.0,
                        "false for groups across ranks for now (TRL's NaN rule runs in the single-process call)");
  }

  /// Words of the header every rank's buffer starts with.
  static constexpr std::size_t header_words = 8;

  /// Per-sample inputs. ids: one per sample; checks: empty, or one second
  /// hash per sample (kind hashed), equal within a group.
  template <class Real>
  distributed_batch(const sequence_inputs<Real>& inputs, const id_groups& groups,
                    const advantage_settings& settings = {}, span<const std::int64_t> checks = {},
                    id_kind kind = id_kind::int64)
      : settings_(settings) {
    core::check_sequence_call(inputs, settings, span<Real>(nullptr, inputs.scores.size()));
    check_supported(settings);
    const std::size_t n = inputs.scores.size();
    if (detail::might_reject(inputs, settings)) detail::validate_sequence_inputs(inputs, settings);
    const detail::caller_samples<Real> samples{inputs.scores.data(), inputs.logprob_sums.data(),
                                               inputs.response_lengths.data(), settings.difficulty_source, false};
    build(samples, n, groups, checks, kind, sizeof(Real));
  }

  /// Token-level inputs [N x T] (verl's layout). validate_mask: check the
  /// mask's values, when there is a mask, even where the estimator does not
  /// read it (the single-process call does when token advantages are asked for).
  template <class Real, class Mask>
  distributed_batch(const token_inputs<Real, Mask>& inputs, const id_groups& groups,
                    const advantage_settings& settings = {}, span<const std::int64_t> checks = {},
                    id_kind kind = id_kind::int64, bool validate_mask = true)
      : settings_(settings) {
    core::check_token_call(inputs, settings, span<Real>{}, span<Real>{});
    check_supported(settings);
    const std::size_t n = inputs.num_samples;
    const detail::row_values rows(detail::reduce_rows(inputs, settings, validate_mask && inputs.mask != nullptr));
    build(rows.samples(), n, groups, checks, kind, sizeof(Real));
  }

  /// A rank that could not build its batch (its input was rejected): it
  /// takes part in the first exchange, where every rank learns the message.
  static distributed_batch failed(std::string message) {
    distributed_batch b;
    b.error_ = message.empty() ? std::string("lens: unknown error") : std::move(message);
    return b;
  }

  /// 2 for LENS (confidence, then the moments of r~), 1 otherwise. A failed
  /// rank reports 1: the first merge throws on every rank.
  std::size_t num_exchanges() const {
    return error_.empty() && settings_.kind == estimator::lens ? 2 : 1;
  }

  /// The words this rank needs in exchange e (header, then records or the error message).
  std::size_t words(std::size_t e) const {
    if (!error_.empty()) return header_words + (error_.size() + 7) / 8;
    return header_words + local_.size() * core::record_words(record_kind(e));
  }

  /// The stride to gather exchange e with: the first exchange uses the
  /// caller's capacity (every rank must pass the same, e.g. what the last
  /// call settled on); a later one the largest need over ranks, known from
  /// the first. Never below the header.
  std::size_t exchange_words(std::size_t e, std::size_t capacity) const {
    if (e == 0) return std::max(capacity, header_words);
    return header_words + max_groups_ * core::record_words(record_kind(e));
  }

  /// Writes this rank's buffer of exchange e into out (its size is the
  /// stride): the header always, the records (or message) when they fit.
  void write(std::size_t e, span<std::uint64_t> out) const {
    if (out.size() < header_words) raise(error_code::size_mismatch, "distributed buffer", -1, "shorter than its header");
    std::fill(out.begin(), out.end(), std::uint64_t{0});
    const std::size_t needed = words(e);
    out[0] = magic + e;
    out[1] = error_.size();
    out[2] = needed;
    out[3] = error_.empty() ? core::settings_hash(settings_) : 0;
    out[4] = local_.size();
    out[5] = num_samples_;
    out[6] = static_cast<std::uint64_t>(num_samples_ ? kind_ : id_kind::none);
    out[7] = num_samples_ ? real_bytes_ : 0;
    if (needed > out.size()) return;
    std::uint64_t* body = out.data() + header_words;
    if (!error_.empty()) {
      std::memcpy(body, error_.data(), error_.size());
      return;
    }
    const core::exchange_record kind = record_kind(e);
    const std::size_t w = core::record_words(kind);
    for (std::size_t g = 0; g < local_.size(); ++g) core::write_record(local_[g], kind, body + g * w);
  }

  /// Merges exchange e from every rank's buffer (num_ranks buffers of equal
  /// stride, in rank order; rank is this rank's position). Returns 0 when
  /// done, or the stride every rank must gather again with (some rank's
  /// buffer did not fit); every rank returns the same. Throws, the same
  /// lens::invalid_argument on every rank, when any rank failed, settings or
  /// id kinds differ, or two group keys collide.
  std::size_t merge(std::size_t e, span<const std::uint64_t> gathered, std::size_t num_ranks, std::size_t rank) {
    if (num_ranks == 0 || gathered.size() % num_ranks != 0 || rank >= num_ranks)
      raise(error_code::size_mismatch, "distributed buffers", -1,
            std::to_string(gathered.size()) + " words for " + std::to_string(num_ranks) + " ranks");
    const std::size_t stride = gathered.size() / num_ranks;
    if (stride < header_words) raise(error_code::size_mismatch, "distributed buffers", -1, "stride below the header");
    auto header = [&](std::size_t r) { return gathered.data() + r * stride; };
    for (std::size_t r = 0; r < num_ranks; ++r)
      if (header(r)[0] != magic + e)
        raise(error_code::size_mismatch, "distributed buffers", static_cast<std::int64_t>(r),
              "not a lens buffer of exchange " + std::to_string(e) + ": the ranks are out of step");
    std::size_t needed = 0;
    for (std::size_t r = 0; r < num_ranks; ++r) needed = std::max<std::size_t>(needed, header(r)[2]);
    if (needed > stride) return needed;
    if (e == 0) check_headers(header, num_ranks, stride);
    if (e == 0) merge_first(header, num_ranks, rank);
    else merge_second(header, num_ranks);
    return 0;
  }

  /// The local advantages from the merged statistics, one per sample. Call
  /// after the last merge. The summary's group counts are the whole batch's
  /// (the same on every rank); num_samples, num_nonzero_advantages and
  /// gradient_sample_fraction are this rank's. group_stats: every group of
  /// the batch, in the single-process order.
  template <class Real>
  batch_summary finish(span<Real> advantages, std::vector<group_statistics>* group_stats = nullptr) const {
    if (merged_ != num_exchanges())
      raise(error_code::size_mismatch, "distributed_batch", -1, "finish() before the last merge");
    core::check_size("advantages", advantages.size(), num_samples_);
    const std::vector<core::group_transform>& transforms =
        batch_real_bytes_ == sizeof(float) ? detail::fitting_transforms<float>(moments_, shapes_, settings_, batch_std_)
                                           : detail::fitting_transforms<double>(moments_, shapes_, settings_, batch_std_);
    std::vector<core::group_shape> local_shapes(local_.size());
    std::vector<core::group_transform> local_transforms(local_.size());
    for (std::size_t g = 0; g < local_.size(); ++g) {
      local_shapes[g] = shapes_[global_of_local_[g]];
      local_transforms[g] = transforms[global_of_local_[g]];
    }
    batch_summary summary;
    summary.num_samples = num_samples_;
    summary.num_groups = moments_.size();
    const std::int64_t* order = gathered_.order.data();
    summary.num_nonzero_advantages = static_cast<std::size_t>(detail::write_groups<Real>(
        gathered_.view(), gathered_.samples(), local_shapes, local_transforms, shaped_.data(),
        [&](std::size_t first) { return detail::scatter_sink<Real>{advantages.data(), order + first}; }));
    if (group_stats) group_stats->resize(moments_.size());
    for (std::size_t g = 0; g < moments_.size(); ++g)
      detail::record_group(summary, group_stats, g, ids_[g], static_cast<std::int64_t>(confidence_[g].num_correct),
                           moments_[g], shapes_[g], settings_);
    core::finish_summary(summary);
    return summary;
  }

  /// finish() for token-level inputs: the same inputs the batch was built
  /// from; writes [N] advantages (or empty) and A_i * mask_it into [N x T]
  /// token_advantages (or empty).
  template <class Real, class Mask>
  batch_summary finish(const token_inputs<Real, Mask>& inputs, span<Real> advantages, span<Real> token_advantages,
                       std::vector<group_statistics>* group_stats = nullptr) const {
    core::check_size("inputs.num_samples", inputs.num_samples, num_samples_);
    if (!token_advantages.empty()) {
      core::check_size("token_advantages", token_advantages.size(), inputs.num_samples * inputs.num_tokens);
      if (inputs.num_samples > 0 && inputs.mask == nullptr) raise(error_code::size_mismatch, "mask", -1, "is null");
    }
    if (!advantages.empty()) core::check_size("advantages", advantages.size(), num_samples_);
    std::vector<Real> scratch;
    span<Real> per_sample = advantages;
    if (advantages.empty()) {
      scratch.resize(num_samples_);
      per_sample = span<Real>(scratch);
    }
    const batch_summary summary = finish(per_sample, group_stats);
    if (!token_advantages.empty())
      detail::broadcast_rows(token_advantages.data(), inputs.mask, per_sample.data(), inputs.num_samples,
                             inputs.num_tokens);
    return summary;
  }

  std::size_t num_samples() const { return num_samples_; }
  std::size_t num_local_groups() const { return local_.size(); }
  /// After the first merge: the batch's groups and samples over all ranks.
  std::size_t num_groups() const { return moments_.size(); }
  std::size_t total_samples() const { return total_samples_; }

 private:
  static constexpr std::uint64_t magic = 0x4c454e5344000000ULL;  // "LENSD", exchange number in the low bits

  distributed_batch() = default;

  core::exchange_record record_kind(std::size_t e) const {
    if (settings_.kind != estimator::lens) return core::exchange_record::counts_and_moments;
    return e == 0 ? core::exchange_record::confidence : core::exchange_record::moments;
  }

  template <class Samples>
  void build(const Samples& samples, std::size_t n, const id_groups& groups, span<const std::int64_t> checks,
             id_kind kind, std::size_t real_bytes) {
    core::group_traits<id_groups>::check(groups, n);
    if (!checks.empty()) core::check_size("checks", checks.size(), n);
    const bool is_lens = settings_.kind == estimator::lens;
    num_samples_ = n;
    kind_ = kind;
    real_bytes_ = real_bytes;
    numbering_ = number_groups(groups.ids.data(), n);
    local_.assign(numbering_.num_groups(), core::group_partial{});
    std::vector<bool> seen(local_.size(), false);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t g = static_cast<std::size_t>(numbering_.group[i]);
      core::group_partial& p = local_[g];
      const std::int64_t check = checks.empty() ? 0 : checks[i];
      if (!seen[g]) {
        seen[g] = true;
        p.id = numbering_.ids[g];
        p.check = check;
      } else if (p.check != check) {
        raise(error_code::size_mismatch, "index", static_cast<std::int64_t>(i),
              "two different group keys hash to the same 64-bit id; rename one");
      }
    }
    // The local samples group by group, in the single-process engine's
    // member order, measured by its kernels: a group wholly on this rank
    // gets the single-process bits.
    detail::gather_groups(numbering_.group.data(), local_.size(), n, samples, is_lens, gathered_);
    const core::offset_group_view view = gathered_.view();
    const double* scores = gathered_.scores.data();
    std::vector<double> terms(is_lens ? detail::largest_group(view) : 0);
    detail::with_best_isa([&]() LENS_CPU_KERNEL {
      for (std::size_t g = 0; g < local_.size(); ++g) {
        const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
        const std::size_t count = static_cast<std::size_t>(view.end(static_cast<std::int64_t>(g))) - first;
        // GRPO gathers no confidences: no offset on their null data().
        const double* c = is_lens ? gathered_.log_conf.data() + first : nullptr;
        const double* p = is_lens ? gathered_.log_prob.data() + first : nullptr;
        local_[g].confidence =
            detail::measure_group(scores + first, c, p, count, is_lens, terms.data(), local_[g].moments);
      }
    });
  }

  template <class Header>
  void check_headers(Header header, std::size_t num_ranks, std::size_t) const {
    for (std::size_t r = 0; r < num_ranks; ++r) {
      const std::uint64_t length = header(r)[1];
      if (length == 0) continue;
      const char* text = reinterpret_cast<const char*>(header(r) + header_words);
      throw invalid_argument("lens: rank " + std::to_string(r) + " of " + std::to_string(num_ranks) +
                             " rejected its input: " + std::string(text, text + length));
    }
    for (std::size_t r = 1; r < num_ranks; ++r)
      if (header(r)[3] != header(0)[3])
        raise(error_code::bad_setting, "settings", -1,
              "rank " + std::to_string(r) + " passed settings that differ from rank 0's; every rank must pass "
              "the same settings");
    std::uint64_t kind = 0, bytes = 0;
    for (std::size_t r = 0; r < num_ranks; ++r) {
      const std::uint64_t k = header(r)[6], b = header(r)[7];
      if (k && kind && k != kind)
        raise(error_code::size_mismatch, "index", -1,
              "rank " + std::to_string(r) + " gives its group ids in another form than an earlier rank "
              "(int64 ids, hashed keys or group_size); every rank must pass the same kind of index");
      if (b && bytes && b != bytes)
        raise(error_code::size_mismatch, "token_level_rewards", -1,
              "rank " + std::to_string(r) + " passes another dtype than an earlier rank; every rank must pass "
              "the same dtype");
      kind = k ? k : kind;
      bytes = b ? b : bytes;
    }
  }

  template <class Header>
  void merge_first(Header header, std::size_t num_ranks, std::size_t rank) {
    const bool is_lens = settings_.kind == estimator::lens;
    const core::exchange_record kind = record_kind(0);
    const std::size_t w = core::record_words(kind);
    batch_real_bytes_ = sizeof(double);
    // Every record in rank order; their ids numbered in order of first appearance.
    std::vector<core::group_partial> records;
    std::vector<std::size_t> first_record(num_ranks + 1, 0);
    total_samples_ = 0;
    max_groups_ = 0;
    for (std::size_t r = 0; r < num_ranks; ++r) {
      const std::uint64_t* h = header(r);
      const std::size_t count = static_cast<std::size_t>(h[4]);
      max_groups_ = std::max(max_groups_, count);
      total_samples_ += static_cast<std::size_t>(h[5]);
      if (h[7]) batch_real_bytes_ = static_cast<std::size_t>(h[7]);
      first_record[r] = records.size();
      for (std::size_t g = 0; g < count; ++g) {
        core::group_partial p;
        core::read_record(h + header_words + g * w, kind, p);
        records.push_back(p);
      }
    }
    first_record[num_ranks] = records.size();
    std::vector<std::int64_t> record_ids(records.size());
    for (std::size_t k = 0; k < records.size(); ++k) record_ids[k] = records[k].id;
    const id_numbering numbering = number_groups(record_ids.data(), record_ids.size());
    const std::size_t num_groups = numbering.num_groups();
    record_group_.assign(numbering.group.begin(), numbering.group.end());
    std::vector<core::group_partial> merged(num_groups);
    for (std::size_t k = 0; k < records.size(); ++k) {
      core::group_partial& m = merged[static_cast<std::size_t>(record_group_[k])];
      if (m.confidence.count > 0 && m.check != records[k].check)
        raise(error_code::size_mismatch, "index", -1,
              "two different group keys on different ranks hash to the same 64-bit id " +
                  std::to_string(records[k].id) + "; rename one");
      m = core::merge(m, records[k], is_lens);
    }
    global_of_local_.resize(local_.size());
    for (std::size_t g = 0; g < local_.size(); ++g)
      global_of_local_[g] = static_cast<std::size_t>(record_group_[first_record[rank] + g]);
    first_record_ = std::move(first_record);
    ids_ = numbering.ids;
    confidence_.resize(num_groups);
    shapes_.resize(num_groups);
    moments_.resize(num_groups);
    for (std::size_t g = 0; g < num_groups; ++g) {
      confidence_[g] = merged[g].confidence;
      shapes_[g] = core::make_shape(merged[g].confidence, settings_);
      moments_[g] = merged[g].moments;
    }
    merged_ = 1;
    if (is_lens) {
      // The second exchange: the moments of the local shaped scores r~, by
      // the single-process engine's kernels.
      const core::offset_group_view view = gathered_.view();
      const double* scores = gathered_.scores.data();
      shaped_.resize(gathered_.order.size());
      detail::with_best_isa([&]() LENS_CPU_KERNEL {
        for (std::size_t g = 0; g < local_.size(); ++g) {
          const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
          const std::size_t count = static_cast<std::size_t>(view.end(static_cast<std::int64_t>(g))) - first;
          local_[g].moments = detail::measure_shaped(scores + first, gathered_.log_conf.data() + first, count,
                                                     shapes_[global_of_local_[g]], shaped_.data() + first);
        }
      });
    } else {
      batch_std_ = detail::batch_standard_deviation(moments_, settings_);
    }
  }

  template <class Header>
  void merge_second(Header header, std::size_t num_ranks) {
    if (merged_ != 1) raise(error_code::size_mismatch, "distributed_batch", -1, "second merge before the first");
    const std::size_t w = core::record_words(core::exchange_record::moments);
    for (auto& m : moments_) m = core::score_moments{};
    for (std::size_t r = 0; r < num_ranks; ++r) {
      const std::uint64_t* h = header(r);
      const std::size_t count = first_record_[r + 1] - first_record_[r];
      if (h[4] != count)
        raise(error_code::size_mismatch, "distributed buffers", static_cast<std::int64_t>(r),
              "a different group count than in the first exchange");
      for (std::size_t g = 0; g < count; ++g) {
        core::score_moments& m = moments_[static_cast<std::size_t>(record_group_[first_record_[r] + g])];
        m = core::merge(m, core::read_moments(h + header_words + g * w));
      }
    }
    batch_std_ = detail::batch_standard_deviation(moments_, settings_);
    merged_ = 2;
  }

  advantage_settings settings_{};
  std::string error_;
  std::size_t num_samples_ = 0;
  id_kind kind_ = id_kind::none;
  std::size_t real_bytes_ = 0;
  id_numbering numbering_;
  std::vector<core::group_partial> local_;
  detail::gathered_groups gathered_;  ///< the local samples group by group
  std::vector<double> shaped_;        ///< LENS: r~ per gathered position (calibrated groups)
  // After the first merge: the batch's groups in single-process order.
  std::size_t merged_ = 0;
  std::size_t total_samples_ = 0, max_groups_ = 0, batch_real_bytes_ = sizeof(double);
  std::vector<std::size_t> first_record_;
  std::vector<std::int64_t> record_group_;
  std::vector<std::size_t> global_of_local_;
  std::vector<std::int64_t> ids_;
  std::vector<core::confidence_summary> confidence_;
  std::vector<core::group_shape> shapes_;
  std::vector<core::score_moments> moments_;
  double batch_std_ = 0;
};

/// The whole exchange loop over a callable transport:
///   all_gather(span<const std::uint64_t> mine) -> std::vector<std::uint64_t>
/// returning every rank's buffer (all of mine.size() words) in rank order.
/// capacity: the first exchange's stride in words, the same on every rank
/// (grown and updated in place when a rank needs more; keep it for the next
/// call and the first exchange is a single collective). Returns after the
/// last merge; then call batch.finish(...).
template <class AllGather>
void run_exchanges(distributed_batch& batch, std::size_t num_ranks, std::size_t rank, AllGather&& all_gather,
                   std::size_t& capacity) {
  for (std::size_t e = 0; e < batch.num_exchanges(); ++e) {
    std::size_t stride = batch.exchange_words(e, capacity);
    for (;;) {
      std::vector<std::uint64_t> mine(stride);
      batch.write(e, span<std::uint64_t>(mine));
      const std::vector<std::uint64_t> all = all_gather(span<const std::uint64_t>(mine.data(), mine.size()));
      if (all.size() != stride * num_ranks)
        raise(error_code::size_mismatch, "all_gather", -1,
              "returned " + std::to_string(all.size()) + " words, expected " + std::to_string(stride * num_ranks));
      const std::size_t needed = batch.merge(e, span<const std::uint64_t>(all.data(), all.size()), num_ranks, rank);
      if (needed == 0) break;
      stride = needed;
      if (e == 0) capacity = needed;
    }
  }
}

}  // namespace cpu
}  // namespace lens
