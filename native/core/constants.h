// The numbers that define the noise stream and the kernels' limits, in one place. Every
// backend's stream code takes its coefficients from here, so a coefficient cannot differ
// between the scalar, SIMD and CUDA versions of the same operation.
//
// Hand-written stand-in for the header generated from the constants' JSON source (issue 10):
// same names, same values, copied bit for bit from philox_normal.h and kernel_internal.h.
// Changing any stream value changes the stream: bump kStreamVersion and the known answers in
// test/bitident.test.ts together.
#pragma once

#include <cstdint>

namespace ntk {

constexpr uint32_t kStreamVersion = 1;
constexpr uint32_t kMaxSamples = 1u << 24;               // counts / nSample stay exact in float
constexpr uint64_t kMaxPositions = uint64_t{1} << 28;    // rows * nSample

// u = ((w >> 8) + 1) * kUnitScale: 2^-24.
constexpr float kUnitScale = 5.9604644775390625e-08f;
// logUnit's odd series of 2 atanh(s) in s^2, Horner order: 2/9, 2/7, 2/5, 2/3.
constexpr float kLogCoef[4] = {0.2222222238779068f, 0.2857142984867096f, 0.4000000059604645f, 0.6666666865348816f};
// ln 2 split so that e * kLn2Hi is exact for the exponents logUnit sees (16 significant bits).
constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.428606765330187e-06f;
// sin and cos on [-pi/4, pi/4], Horner order: 1/9!, -1/7!, 1/5!, -1/3! and -1/10!, 1/8!,
// -1/6!, 1/4!, -1/2.
constexpr float kSinCoef[4] = {2.7557318844628753e-06f, -0.00019841270113829523f, 0.008333333767950535f,
                               -0.1666666716337204f};
constexpr float kCosCoef[5] = {-2.755731998149713e-07f, 2.4801587642286904e-05f, -0.0013888889225199819f,
                               0.0416666679084301f, -0.5f};
// pi/2 / 2^22: the angle of one step of the 22-bit offset within a quadrant.
constexpr float kAngleScale = 3.7450703871400037e-07f;

// Transitional: philox_normal.h still defines kNormalBound itself (it defines
// NTK_STREAM_VERSION beside it); once it takes the value from here this guard goes.
#ifndef NTK_STREAM_VERSION
constexpr float kNormalBound = 5.7762265f;  // >= every |z| the stream can produce
#endif

// Radius bound of the pruned sweeps (kernel_internal.h's radiusBound and its SIMD versions):
// r^2 <= t * kRadiusScale + kRadiusSlack.
constexpr float kRadiusScale = 1.6526e-07f;  // > 2 ln 2 / 2^23 = 1.65259e-07
constexpr float kRadiusSlack = 1.0e-4f;      // absolute slack on r^2

}  // namespace ntk
