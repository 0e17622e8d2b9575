// lens/core/errors.hpp: the one exception type every backend throws, and the
// error codes the device path reports through its flag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace lens {

/// Thrown for every rejected input, by every backend. The message names the
/// field and the first offending index. When it is thrown, no output buffer has
/// been written: validation finishes before the first store.
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// What went wrong with an input, as a code the device path can store in a flag.
/// The host turns a code, the field and the index into the same message the CPU
/// backend throws (see error_message).
enum class error_code : std::int32_t {
  none = 0,
  size_mismatch,           // a buffer's length does not match N (or N x T)
  not_finite,              // NaN or +-inf
  logprob_above_zero,      // a log-probability above 0 beyond the tolerance
  reward_out_of_range,     // a LENS reward outside [0, 1]
  empty_response,          // a response with no unmasked token (LENS needs its confidence)
  bad_mask_value,          // a mask value other than 0 or 1
  bad_offsets,             // offsets not starting at 0, decreasing, or not ending at N
  group_size_mismatch,     // a fixed group size of 0 or one that does not divide N
  bad_setting,             // a settings field out of its range
  bad_length,              // a response length below 0 or above T
  advantage_overflow,      // a group's advantages (or the spread they divide by) overflow the output type
};

namespace detail {
inline const char* error_text(error_code code) {
  switch (code) {
    case error_code::none: return "no error";
    case error_code::size_mismatch: return "has the wrong size";
    case error_code::not_finite: return "is not finite (NaN or infinite)";
    case error_code::logprob_above_zero: return "is a log-probability above 0 (beyond settings.logprob_tolerance)";
    case error_code::reward_out_of_range: return "is a reward outside [0, 1], which LENS requires";
    case error_code::empty_response: return "is a response with no unmasked token; LENS needs at least one to measure confidence";
    case error_code::bad_mask_value: return "is a mask value other than 0 or 1";
    case error_code::bad_offsets: return "breaks the offsets rule: offsets[0] == 0, non-decreasing, offsets[num_groups] == N";
    case error_code::group_size_mismatch: return "is a group size that is 0 or does not divide the number of samples";
    case error_code::bad_setting: return "is a setting out of its range";
    case error_code::bad_length: return "is a response length below 0 or above the number of token columns";
    case error_code::advantage_overflow:
      return "gives advantages beyond the range of the output type (scores too large, or too close together for "
             "settings.epsilon)";
  }
  return "is invalid";
}
}  // namespace detail

/// "lens: <field>[<index>] <what is wrong>"; index < 0 leaves the index out.
inline std::string error_message(error_code code, const std::string& field, std::int64_t index,
                                 const std::string& detail = {}) {
  std::string message = "lens: " + field;
  if (index >= 0) message += "[" + std::to_string(index) + "]";
  message += " ";
  message += detail::error_text(code);
  if (!detail.empty()) message += " (" + detail + ")";
  return message;
}

[[noreturn]] inline void raise(error_code code, const std::string& field, std::int64_t index,
                               const std::string& detail = {}) {
  throw invalid_argument(error_message(code, field, index, detail));
}

namespace core {
/// A buffer's length against what the call needs.
inline void check_size(const char* field, std::size_t actual, std::size_t expected) {
  if (actual != expected)
    raise(error_code::size_mismatch, field, -1,
          "has " + std::to_string(actual) + " elements, expected " + std::to_string(expected));
}
}  // namespace core

}  // namespace lens
