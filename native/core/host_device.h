// The host/device markers and the bit casts shared by every core header (issue 19, item 6).
// A core function compiles for the host (C++17) and, under nvcc, for the device too: NTK_HD marks
// it so. NTK_F* are the float operations: in device code the __f*_rn intrinsics, each one
// correctly rounded operation that nvcc never fuses into a multiply-add, as the host build
// (-ffp-contract=off) does not either; this keeps 'cpu' and 'cuda' bit-identical
// (philox_normal.h, Invariant).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define NTK_HD __host__ __device__ __forceinline__
#else
#define NTK_HD inline
#endif

#if defined(__CUDA_ARCH__)
#define NTK_FADD(a, b) __fadd_rn((a), (b))
#define NTK_FSUB(a, b) __fsub_rn((a), (b))
#define NTK_FMUL(a, b) __fmul_rn((a), (b))
#define NTK_FDIV(a, b) __fdiv_rn((a), (b))
#define NTK_FSQRT(a) __fsqrt_rn((a))
#else
#include <cmath>
#define NTK_FADD(a, b) ((a) + (b))
#define NTK_FSUB(a, b) ((a) - (b))
#define NTK_FMUL(a, b) ((a) * (b))
#define NTK_FDIV(a, b) ((a) / (b))
#define NTK_FSQRT(a) std::sqrt((a))
#endif

namespace ntk {

// The bits of a value as another type of the same size. memcpy is the defined way in C++17 (a
// union read through the other member is not); g++, clang and nvcc (host and device code) turn
// it into a register move. std::bit_cast would need C++20.
template <typename To, typename From>
NTK_HD To bitCast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bitCast between types of one size");
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}

}  // namespace ntk
