// Retort's single-precision matrix product (no external BLAS).
//
//   C = op(A) x op(B)          (accumulate = false)
//   C = C + op(A) x op(B)      (accumulate = true)
//
// Row-major; op(A) is m x k (A itself k x m when ta), op(B) is k x n (B itself n x k when tb);
// lda, ldb, ldc are row strides in floats. The product is blocked and packed the way BLIS and
// GotoBLAS do it (panels of A and B copied into contiguous, cache-sized buffers, an MR x NR
// register-tile micro-kernel over them), and split over the threads of retort::Pool by blocks
// of rows and columns of C, never along k: every element of C is summed in the same order
// whatever the thread count, so results do not depend on it.

#pragma once

#include <cstdint>

namespace retort {

void Sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float* c, int64_t ldc, bool accumulate, bool parallel = true);

// Describes the micro-kernel the build selected (vector width, tile), for `info()`.
const char* SgemmKernelName();

// The fp32 multiply-add throughput of `threads` threads (independent register-to-register
// multiply-adds in the micro-kernel's vector width, for about `seconds`), in GFLOP/s.
double PeakGflops(int threads, double seconds);

// The core clock in GHz, timed over a chain of dependent integer additions (x86-64 and arm64;
// 0 elsewhere).
double ClockGhz();

}  // namespace retort
