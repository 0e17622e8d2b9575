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
