// lens/core/status.hpp: how the device path reports a rejected input.
// Every check that fails calls report_error() with its rank in the CPU
// backend's check order; the smallest rank wins, so the first offending index
// is the one the CPU backend would name. The host reads the status back in a
// checking call and throws the CPU backend's message (lens::error_message).
//
// No CUDA-only syntax outside __CUDA_ARCH__ blocks: the Thrust-on-OpenMP build
// compiles this file with g++, where the atomics are GCC builtins.
#pragma once

#include <math.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "lens/core/config.hpp"
#include "lens/core/errors.hpp"
#include "lens/core/outputs.hpp"

namespace lens {
namespace core {

/// Which input a device-side error names (turned into the field text on the host).
enum class error_field : std::int32_t {
  scores,
  token_rewards,
  token_rewards_row_sum,
  mask,
  logprobs,
  logprob_sums,
  response_lengths,
  offsets,
  groups,
};

/// Which detail text the CPU backend appends, and from which numbers.
enum class error_detail : std::int32_t {
  none,
  row_column,         // "row r, column c"
  row_column_value,   // "row r, column c; value v"
  value,              // "value v"
  sum_over_length,    // "sum v over n tokens"
  row_has_no_one,     // "row has no 1"
  offsets_first,      // "offsets[0] must be 0"
  offsets_decrease,   // "decreases"
  offsets_last,       // "last offset v does not cover N = n"
  largest_advantage,  // "largest |advantage| v" (%.3g)
};

/// One rejected input as the device saw it: enough to rebuild the CPU message.
struct error_report {
  std::uint64_t rank = 0;    ///< position in the CPU backend's check order; the smallest wins
  std::int32_t code = 0;     ///< lens::error_code
  std::int32_t field = 0;    ///< error_field
  std::int32_t detail = 0;   ///< error_detail
  std::int32_t unused = 0;
  std::int64_t index = -1;   ///< the index the message names
  std::int64_t row = -1;     ///< token path: the row and column of the bad value
  std::int64_t column = -1;
  double value = 0;          ///< the offending value, where the message quotes it
  std::int64_t number = 0;   ///< an offending integer the message quotes (an offset)
  std::int64_t count = 0;    ///< a second number: a response's length, or N
};

/// The device-resident state of one call: the first error and the batch
/// counters. All zero means "no error, nothing counted": one memset resets it.
struct device_status {
  unsigned long long best = 0;  ///< ~rank of the first error so far; 0 = none
  int lock = 0;                 ///< guards report
  int unused = 0;
  error_report report;
  unsigned long long num_negative_groups = 0;
  unsigned long long num_zero_variance_groups = 0;
  unsigned long long num_nonzero_advantages = 0;
};

namespace detail {

LENS_HD unsigned long long atomic_read(const unsigned long long* address) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const volatile unsigned long long*>(address);
#else
  return __atomic_load_n(address, __ATOMIC_ACQUIRE);
#endif
}

LENS_HD void atomic_add(unsigned long long* address, unsigned long long value) {
#if defined(__CUDA_ARCH__)
  atomicAdd(address, value);
#else
  __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
#endif
}

LENS_HD void acquire(int* lock) {
#if defined(__CUDA_ARCH__)
  while (atomicCAS(lock, 0, 1) != 0) {
  }
  __threadfence();
#else
  int expected = 0;
  while (!__atomic_compare_exchange_n(lock, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) expected = 0;
#endif
}

LENS_HD void release(int* lock) {
#if defined(__CUDA_ARCH__)
  __threadfence();
  atomicExch(lock, 0);
#else
  __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
#endif
}

}  // namespace detail

/// True once any check of this call has failed.
LENS_HD bool has_error(const device_status* status) { return detail::atomic_read(&status->best) != 0; }

/// Records r if it comes before every error recorded so far. Errors are rare:
/// the unlocked pre-check lets all but the first few reporters leave at once.
LENS_HD void report_error(device_status* status, const error_report& r) {
  const unsigned long long key = ~static_cast<unsigned long long>(r.rank);
  if (key <= detail::atomic_read(&status->best)) return;
  detail::acquire(&status->lock);
  if (key > status->best) {
    status->report = r;
#if defined(__CUDA_ARCH__)
    atomicExch(&status->best, key);
#else
    __atomic_store_n(&status->best, key, __ATOMIC_RELEASE);
#endif
  }
  detail::release(&status->lock);
}

LENS_HD error_report make_report(std::uint64_t rank, error_code code, error_field field, std::int64_t index,
                                 error_detail detail = error_detail::none) {
  error_report r;
  r.rank = rank;
  r.code = static_cast<std::int32_t>(code);
  r.field = static_cast<std::int32_t>(field);
  r.detail = static_cast<std::int32_t>(detail);
  r.index = index;
  return r;
}

// ------------------------------------------------------------------ host side

inline const char* field_text(error_field field) {
  switch (field) {
    case error_field::scores: return "scores";
    case error_field::token_rewards: return "token_rewards";
    case error_field::token_rewards_row_sum: return "token_rewards (row sum)";
    case error_field::mask: return "mask";
    case error_field::logprobs: return "logprobs";
    case error_field::logprob_sums: return "logprob_sums";
    case error_field::response_lengths: return "response_lengths";
    case error_field::offsets: return "groups.offsets";
    case error_field::groups: return "groups";
  }
  return "input";
}

/// The detail text the CPU backend appends for the same error.
inline std::string detail_text(const error_report& r) {
  const std::string row_column = "row " + std::to_string(r.row) + ", column " + std::to_string(r.column);
  switch (static_cast<error_detail>(r.detail)) {
    case error_detail::none: return {};
    case error_detail::row_column: return row_column;
    case error_detail::row_column_value: return row_column + "; value " + std::to_string(r.value);
    case error_detail::value: return "value " + std::to_string(r.value);
    case error_detail::sum_over_length:
      return "sum " + std::to_string(r.value) + " over " + std::to_string(r.count) + " tokens";
    case error_detail::row_has_no_one: return "row has no 1";
    case error_detail::offsets_first: return "offsets[0] must be 0";
    case error_detail::offsets_decrease: return "decreases";
    case error_detail::offsets_last:
      return "last offset " + std::to_string(r.number) + " does not cover N = " + std::to_string(r.count);
    case error_detail::largest_advantage: {
      char text[64];
      std::snprintf(text, sizeof text, "largest |advantage| %.3g", r.value);
      return text;
    }
  }
  return {};
}

/// Throws lens::invalid_argument with the CPU backend's message when the
/// status (already copied to the host) holds an error.
inline void throw_if_error(const device_status& status) {
  if (status.best == 0) return;
  const error_report& r = status.report;
  raise(static_cast<error_code>(r.code), field_text(static_cast<error_field>(r.field)), r.index, detail_text(r));
}

/// The batch summary from the device counters (num_samples and num_groups known on the host).
inline batch_summary make_summary(const device_status& status, std::size_t num_samples, std::size_t num_groups) {
  return make_summary(num_samples, num_groups, static_cast<std::size_t>(status.num_negative_groups),
                      static_cast<std::size_t>(status.num_zero_variance_groups),
                      static_cast<std::size_t>(status.num_nonzero_advantages));
}

}  // namespace core
}  // namespace lens
