// lens/core/config.hpp: compiler glue shared by every backend.
#pragma once

// LENS_HD marks the per-group math that runs on the host and on the device.
// Under nvcc it is __host__ __device__; elsewhere (g++, clang, the Thrust OpenMP
// path) it is plain inline.
#if defined(__CUDACC__)
#define LENS_HD __host__ __device__ inline
#else
#define LENS_HD inline
#endif

// LENS_GENERIC goes before a template the CPU engine also instantiates with
// its host-only packets (lens/cpu/packet.hpp), and LENS_HD_GENERIC in place of
// LENS_HD: always inlined, so the packet code is compiled for the instruction
// set of the engine's pass that calls it (lens/cpu/dispatch.hpp) and never
// crosses a call; under nvcc, no warning that the device copy of such an
// instantiation calls host code.
#if defined(__CUDACC__)
#define LENS_GENERIC _Pragma("nv_exec_check_disable")
#define LENS_HD_GENERIC __host__ __device__ __forceinline__
#elif defined(__GNUC__) || defined(__clang__)
#define LENS_GENERIC
#define LENS_HD_GENERIC inline __attribute__((always_inline))
#else
#define LENS_GENERIC
#define LENS_HD_GENERIC inline
#endif
