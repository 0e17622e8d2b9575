// lens/cpu/dispatch.hpp: runs the CPU engine's group passes with AVX2 where
// the processor has it and the build did not already target it. A default
// x86-64 build (no -march) only assumes SSE2, which runs the four-lane
// packets of lens/cpu/packet.hpp two instructions per operation; LibTorch
// picks AVX2 or AVX-512 kernels at run time, and so does lens. The AVX2 path
// uses no fused multiply-add, so it gives the same bits as the SSE2 one.
// Define LENS_CPU_NO_DISPATCH to keep the build's own instruction set; a
// LENS_CPU_PLAIN_INLINE build keeps it too (its kernels are not inlined, so
// they could not take the AVX2 target; lens/cpu/packet.hpp).
#pragma once

#include "lens/cpu/packet.hpp"  // LENS_CPU_KERNEL

#if defined(__x86_64__) && !defined(__AVX2__) && !defined(__CUDACC__) && !defined(LENS_CPU_NO_DISPATCH) && \
    !defined(LENS_CPU_PLAIN_INLINE)
#define LENS_CPU_DISPATCH_AVX2 1
#endif

namespace lens {
namespace cpu {
namespace detail {

#if defined(LENS_CPU_DISPATCH_AVX2)
/// work's body compiled for AVX2: work is a lambda marked always_inline, and
/// every kernel it calls is always_inline too, so all of it is inlined here.
template <class Work>
__attribute__((target("avx2"))) void run_avx2(Work& work) {
  work();
}
#endif

/// Calls work() with the best instruction set this processor offers.
template <class Work>
void with_best_isa(Work&& work) {
#if defined(LENS_CPU_DISPATCH_AVX2)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    run_avx2(work);
    return;
  }
#endif
  work();
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
