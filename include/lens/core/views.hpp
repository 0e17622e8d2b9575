// lens/core/views.hpp: non-owning views of caller buffers, the three group
// layouts, the input bundles and the statistics outputs. No framework headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace lens {

/// A pointer and a length: a view of caller-owned memory, never a copy.
template <class T>
class span {
 public:
  constexpr span() noexcept = default;
  constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
  /// Views a std::vector (or any contiguous container with data() and size()).
  template <class Container,
            class = std::enable_if_t<std::is_convertible<decltype(std::declval<Container&>().data()), T*>::value>>
  constexpr span(Container& container) noexcept : data_(container.data()), size_(container.size()) {}
  /// span<T> converts to span<const T>.
  template <class U, class = std::enable_if_t<std::is_convertible<U*, T*>::value>>
  constexpr span(span<U> other) noexcept : data_(other.data()), size_(other.size()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// ------------------------------------------------------------------ layouts

/// Groups of one fixed size G, stored one after the other (TRL, OpenRLHF):
/// samples [g*G, (g+1)*G) form group g; N must be a multiple of G.
struct fixed_groups {
  std::size_t group_size = 0;
};

/// Contiguous groups of any size (CSR style): group g is samples
/// [offsets[g], offsets[g+1]). num_groups + 1 entries, offsets[0] == 0,
/// non-decreasing, offsets[num_groups] == N. Empty groups are allowed.
struct offset_groups {
  span<const std::int64_t> offsets;
};

/// Any 64-bit id per sample, in any order (verl's uid after its shuffle).
/// Samples with equal ids form a group; groups are numbered in order of first
/// appearance, which is the order of the per-group statistics.
struct id_groups {
  span<const std::int64_t> ids;
};

// ------------------------------------------------------------------ inputs

/// Per-sample inputs: one score per response and, for LENS, the summed
/// log-probability of the response under the behaviour policy and its length.
template <class Real>
struct sequence_inputs {
  span<const Real> scores{};                   ///< [N] r_i; LENS requires [0, 1]
  span<const Real> logprob_sums{};             ///< [N] l_i = sum of log pi_old over response tokens (LENS only)
  span<const std::int64_t> response_lengths{}; ///< [N] n_i >= 1, the number of response tokens (LENS only)
};

/// Token-level inputs in verl's layout, row-major [N x T] with rows contiguous.
/// Mask may be any arithmetic type (uint8_t, bool, float, ...) holding 0 or 1.
template <class Real, class Mask = std::uint8_t>
struct token_inputs {
  std::size_t num_samples = 0;         ///< N
  std::size_t num_tokens = 0;          ///< T, the padded response length
  const Real* scores = nullptr;        ///< [N] outcome rewards, or null when token_rewards is given
  const Real* token_rewards = nullptr; ///< [N x T] verl's token_level_rewards, summed per row (verl's score)
  const Real* logprobs = nullptr;      ///< [N x T] log pi_old of the sampled tokens (LENS only); ignored where mask == 0
  const Mask* mask = nullptr;          ///< [N x T] response mask, 0 or 1
};

// ------------------------------------------------------------------ outputs

/// What one group looked like, for logging and filtering.
struct group_statistics {
  std::int64_t group_id = 0;      ///< the id (id layout) or the group's position (other layouts)
  std::int64_t size = 0;          ///< samples in the group
  std::int64_t num_correct = 0;   ///< samples with a reward above 0
  double mean = 0;                ///< mean of the scores the advantages centre on (LENS: calibrated rewards)
  double std = 0;                 ///< their standard deviation (settings.unbiased_std decides the divisor)
  double difficulty = 0;          ///< LENS's D(q); 0 for the other estimators
  bool negative = false;          ///< no reward above 0
  bool zero_variance = false;     ///< two or more samples, all scores equal (advantages exactly 0)
};

/// Batch-wide numbers a trainer logs each step.
struct batch_summary {
  std::size_t num_samples = 0;
  std::size_t num_groups = 0;
  std::size_t num_negative_groups = 0;
  std::size_t num_zero_variance_groups = 0;
  std::size_t num_nonzero_advantages = 0;   ///< samples that carry gradient
  double negative_group_fraction = 0;       ///< num_negative_groups / num_groups (0 for no groups)
  double gradient_sample_fraction = 0;      ///< num_nonzero_advantages / num_samples (0 for no samples)
};

}  // namespace lens
