// See sgemm.h. Written for Retort (not derived from a BLAS library's sources): the blocking is
// the textbook GotoBLAS/BLIS scheme, the micro-kernel uses GCC/Clang vector extensions so that
// one source compiles to AVX-512, AVX2+FMA, SSE or NEON for the CPU it is built on.

#include "sgemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "pool.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace retort {

namespace {

#if defined(__AVX512F__)
constexpr int kVW = 16;  // floats per vector register
typedef float vf __attribute__((vector_size(64)));
typedef float vfu __attribute__((vector_size(64), aligned(4)));
const char* const kName = "avx512 6x32";
#elif defined(__AVX__) || defined(__ARM_NEON) || defined(__SSE2__)
constexpr int kVW = 8;
typedef float vf __attribute__((vector_size(32)));
typedef float vfu __attribute__((vector_size(32), aligned(4)));
#if defined(__AVX2__) && defined(__FMA__)
const char* const kName = "avx2+fma 6x16";
#elif defined(__AVX__)
const char* const kName = "avx 6x16";
#elif defined(__ARM_NEON)
const char* const kName = "neon 6x16";
#else
const char* const kName = "sse2 6x16";
#endif
#else
constexpr int kVW = 4;
typedef float vf __attribute__((vector_size(16)));
typedef float vfu __attribute__((vector_size(16), aligned(4)));
const char* const kName = "generic 6x8";
#endif

constexpr int kNV = 2;            // vectors per row of the register tile
constexpr int kMR = 6;            // rows of the register tile
constexpr int kNR = kNV * kVW;    // columns of the register tile
constexpr int64_t kKC = 256;      // depth of a packed block
constexpr int64_t kMC = 144;      // rows of a packed A block (multiple of kMR), ~L2
constexpr int64_t kNC = 3072;     // columns of a packed B block (multiple of kNR), ~L3

// A broadcast of a[i] into every lane, as one load (GCC otherwise loads the scalar into a
// register and broadcasts from there: two instructions in the innermost loop).
inline vf Splat(const float* p) {
#if defined(__AVX512F__)
  return reinterpret_cast<vf>(_mm512_set1_ps(*p));
#elif defined(__AVX__)
  return reinterpret_cast<vf>(_mm256_broadcast_ss(p));
#else
  return vf{} + *p;
#endif
}

static_assert(kMC % kMR == 0, "kMC must be a multiple of kMR");
static_assert(kNC % kNR == 0, "kNC must be a multiple of kNR");

// How the micro-kernel reads its kMR rows of op(A) over kc: packed (kMR floats per k), straight
// from a row-major A (kMR row pointers lda apart, one float per k each), or straight from a
// transposed A (kMR contiguous floats per k, lda apart). The direct forms skip packing A when a
// block of A is used by only one or two column panels (narrow products such as convolutions
// with 32 output channels), where packing would copy every element once to use it once.
enum AForm { kPacked = 0, kRows = 1, kCols = 2 };

// C[0:kMR, 0:kNR] (+)= A-panel x B-panel over kc, b packed (kNR floats per k).
// `rows`/`cols` < kMR/kNR: an edge tile, computed in registers and stored element by element
// (only the packed form is used for rows < kMR).
template <int kForm>
inline void Micro(int64_t kc, const float* __restrict__ a, int64_t lda, const float* __restrict__ b,
                  float* __restrict__ c, int64_t ldc, bool accumulate, int rows, int cols) {
  vf r00{}, r01{}, r10{}, r11{}, r20{}, r21{}, r30{}, r31{}, r40{}, r41{}, r50{}, r51{};
  const float* __restrict__ a0 = a;
  const float* __restrict__ a1 = kForm == kRows ? a + lda : a + 1;
  const float* __restrict__ a2 = kForm == kRows ? a + 2 * lda : a + 2;
  const float* __restrict__ a3 = kForm == kRows ? a + 3 * lda : a + 3;
  const float* __restrict__ a4 = kForm == kRows ? a + 4 * lda : a + 4;
  const float* __restrict__ a5 = kForm == kRows ? a + 5 * lda : a + 5;
  const int64_t step = kForm == kPacked ? kMR : kForm == kRows ? 1 : lda;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const vf b0 = *reinterpret_cast<const vf*>(b);
    const vf b1 = *reinterpret_cast<const vf*>(b + kVW);
    vf av;
    av = Splat(a0);
    r00 += av * b0;
    r01 += av * b1;
    av = Splat(a1);
    r10 += av * b0;
    r11 += av * b1;
    av = Splat(a2);
    r20 += av * b0;
    r21 += av * b1;
    av = Splat(a3);
    r30 += av * b0;
    r31 += av * b1;
    av = Splat(a4);
    r40 += av * b0;
    r41 += av * b1;
    av = Splat(a5);
    r50 += av * b0;
    r51 += av * b1;
    a0 += step;
    a1 += step;
    a2 += step;
    a3 += step;
    a4 += step;
    a5 += step;
    b += kNR;
  }
  const vf acc[kMR][kNV] = {{r00, r01}, {r10, r11}, {r20, r21}, {r30, r31}, {r40, r41}, {r50, r51}};
  if (rows == kMR && cols == kNR) {
    for (int i = 0; i < kMR; ++i) {
      vfu* row = reinterpret_cast<vfu*>(c + i * ldc);
      for (int j = 0; j < kNV; ++j) row[j] = accumulate ? row[j] + acc[i][j] : acc[i][j];
    }
    return;
  }
  alignas(64) float tile[kMR][kNR];
  std::memcpy(tile, acc, sizeof(tile));
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      for (int j = 0; j < cols; ++j) row[j] += tile[i][j];
    } else {
      for (int j = 0; j < cols; ++j) row[j] = tile[i][j];
    }
  }
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into ceil(mc/kMR) panels of kc x kMR, zero-padded.
void PackA(bool ta, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int rows = static_cast<int>(std::min<int64_t>(kMR, mc - ir));
    float* panel = dst + ir * kc;
    if (ta) {
      // A is k x m: op(A)[i][p] = a[p * lda + i], kMR contiguous floats per p.
      const float* src = a + p0 * lda + i0 + ir;
      for (int64_t p = 0; p < kc; ++p) {
        const float* s = src + p * lda;
        float* d = panel + p * kMR;
        int i = 0;
        for (; i < rows; ++i) d[i] = s[i];
        for (; i < kMR; ++i) d[i] = 0.0f;
      }
    } else {
      for (int i = 0; i < rows; ++i) {
        const float* s = a + (i0 + ir + i) * lda + p0;
        for (int64_t p = 0; p < kc; ++p) panel[p * kMR + i] = s[p];
      }
      for (int i = rows; i < kMR; ++i)
        for (int64_t p = 0; p < kc; ++p) panel[p * kMR + i] = 0.0f;
    }
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into ceil(nc/kNR) panels of kc x kNR, zero-padded; only the
// panels [first, last) (so that packing can be split over threads).
void PackB(bool tb, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst,
           int64_t first, int64_t last) {
  for (int64_t panel_index = first; panel_index < last; ++panel_index) {
    const int64_t jr = panel_index * kNR;
    const int cols = static_cast<int>(std::min<int64_t>(kNR, nc - jr));
    float* panel = dst + jr * kc;
    if (!tb) {
      // B is k x n: kNR contiguous floats per p.
      const float* src = b + p0 * ldb + j0 + jr;
      for (int64_t p = 0; p < kc; ++p) {
        const float* s = src + p * ldb;
        float* d = panel + p * kNR;
        if (cols == kNR) {
          std::memcpy(d, s, sizeof(float) * kNR);
        } else {
          int j = 0;
          for (; j < cols; ++j) d[j] = s[j];
          for (; j < kNR; ++j) d[j] = 0.0f;
        }
      }
    } else {
      // B is n x k: op(B)[p][j] = b[j * ldb + p].
      for (int j = 0; j < cols; ++j) {
        const float* s = b + (j0 + jr + j) * ldb + p0;
        for (int64_t p = 0; p < kc; ++p) panel[p * kNR + j] = s[p];
      }
      for (int j = cols; j < kNR; ++j)
        for (int64_t p = 0; p < kc; ++p) panel[p * kNR + j] = 0.0f;
    }
  }
}

// 64-byte aligned scratch that grows, one per thread.
struct Buffer {
  float* data = nullptr;
  size_t size = 0;
  float* get(size_t floats) {
    if (floats > size) {
      std::free(data);
      data = static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64));
      if (data == nullptr) {
        // Built without exceptions, like std::vector here: out of memory ends the process.
        std::fputs("retort_native: out of memory for a packed sgemm buffer\n", stderr);
        std::abort();
      }
      size = floats;
    }
    return data;
  }
  ~Buffer() { std::free(data); }
};

thread_local Buffer packed_a;
thread_local Buffer packed_b;

// Small products are not worth waking threads for (~10 us to start and end a parallel job).
constexpr double kParallelFlops = 4.0e6;

}  // namespace

const char* SgemmKernelName() { return kName; }

void Sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float* c, int64_t ldc, bool accumulate, bool parallel) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  Pool& pool = Pool::Get();
  const bool threaded = parallel && pool.threads() > 1 && 2.0 * m * n * k >= kParallelFlops;
  const int threads = threaded ? pool.threads() : 1;
  // Row blocks: at most kMC rows, and enough blocks to keep every thread busy.
  int64_t mc = kMC;
  if (threads > 1) {
    const int64_t per = (m + threads - 1) / threads;
    mc = std::min<int64_t>(kMC, std::max<int64_t>(kMR, ((per + kMR - 1) / kMR) * kMR));
  }
  const int64_t m_blocks = (m + mc - 1) / mc;
  for (int64_t jc = 0; jc < n; jc += kNC) {
    const int64_t nc = std::min(kNC, n - jc);
    const int64_t panels = (nc + kNR - 1) / kNR;
    // Column groups of the packed B block, so that a product with few row blocks still has a
    // task per thread (each task packs its own copy of its A block).
    int64_t groups = 1;
    if (threads > 1 && m_blocks < 2 * threads) groups = std::min<int64_t>(panels, (2 * threads + m_blocks - 1) / m_blocks);
    const int64_t per_group = (panels + groups - 1) / groups;
    groups = (panels + per_group - 1) / per_group;
    for (int64_t pc = 0; pc < k; pc += kKC) {
      const int64_t kc = std::min(kKC, k - pc);
      const bool acc = accumulate || pc > 0;
      float* bp = packed_b.get(static_cast<size_t>(panels * kNR * kc));
      if (threads > 1) {
        pool.Ranges(panels, 4, threads, [&](int64_t first, int64_t last, int) {
          PackB(tb, b, ldb, pc, kc, jc, nc, bp, first, last);
        });
      } else {
        PackB(tb, b, ldb, pc, kc, jc, nc, bp, 0, panels);
      }
      auto task = [&](int64_t t, int) {
        const int64_t ib = t / groups, g = t % groups;
        const int64_t ic = ib * mc;
        const int64_t mcc = std::min(mc, m - ic);
        const int64_t p_begin = g * per_group, p_end = std::min(panels, (g + 1) * per_group);
        // Direct reads of A for the full kMR-row panels when this block of A meets at most two
        // column panels; the last, partial panel is always packed.
        const bool direct = p_end - p_begin <= 2;
        const int64_t full = direct ? (mcc / kMR) * kMR : 0;
        float* ap = packed_a.get(static_cast<size_t>(((mcc - full + kMR - 1) / kMR) * kMR * kc + kMR));
        if (mcc > full) PackA(ta, a, lda, ic + full, mcc - full, pc, kc, ap);
        for (int64_t pj = p_begin; pj < p_end; ++pj) {
          const int64_t jr = pj * kNR;
          const int cols = static_cast<int>(std::min<int64_t>(kNR, nc - jr));
          const float* bpj = bp + jr * kc;
          for (int64_t ir = 0; ir < full; ir += kMR) {
            float* cij = c + (ic + ir) * ldc + jc + jr;
            if (ta) {
              Micro<kCols>(kc, a + pc * lda + ic + ir, lda, bpj, cij, ldc, acc, kMR, cols);
            } else {
              Micro<kRows>(kc, a + (ic + ir) * lda + pc, lda, bpj, cij, ldc, acc, kMR, cols);
            }
          }
          for (int64_t ir = full; ir < mcc; ir += kMR) {
            const int rows = static_cast<int>(std::min<int64_t>(kMR, mcc - ir));
            Micro<kPacked>(kc, ap + (ir - full) * kc, 0, bpj, c + (ic + ir) * ldc + jc + jr, ldc, acc, rows, cols);
          }
        }
      };
      if (threads > 1) {
        pool.For(m_blocks * groups, task);
      } else {
        for (int64_t t = 0; t < m_blocks * groups; ++t) task(t, 0);
      }
    }
  }
}

}  // namespace retort

namespace retort {

namespace {

// 12 independent chains r = r * m + a: enough to cover the latency of two pipelined FMA units.
// `seed` is read from a volatile, so that the compiler cannot compute a call once and reuse it.
__attribute__((noinline)) double FmaLoop(int64_t iterations, float seed) {
  vf r[12];
  for (int i = 0; i < 12; ++i) r[i] = vf{} + (seed + 0.01f * static_cast<float>(i));
  const vf m = vf{} + 0.999999f, a = vf{} + 1.0e-6f;
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) r[i] = r[i] * m + a;
  }
  float sum = 0.0f;
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < kVW; ++j) sum += r[i][j];
  return static_cast<double>(sum);
}

}  // namespace

double PeakGflops(int threads, double seconds) {
  threads = std::max(1, std::min(threads, 256));
  constexpr int64_t kChunk = 1 << 20;  // iterations between clock reads
  const double flops_per_iteration = 12.0 * kVW * 2.0;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> flops(static_cast<size_t>(threads), 0.0), elapsed(static_cast<size_t>(threads), 0.0);
  volatile double sink = 0.0;
  volatile float seed = 1.0f;
  auto body = [&](int t) {
    ready.fetch_add(1);
    while (!go.load()) std::this_thread::yield();
    const auto start = std::chrono::steady_clock::now();
    double done = 0.0, e = 0.0, s = 0.0;
    do {
      s += FmaLoop(kChunk, seed);
      done += kChunk * flops_per_iteration;
      e = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (e < seconds);
    flops[static_cast<size_t>(t)] = done;
    elapsed[static_cast<size_t>(t)] = e;
    sink = sink + s;
  };
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(body, t);
  while (ready.load() < threads - 1) std::this_thread::yield();
  go.store(true);
  body(0);
  for (auto& w : workers) w.join();
  double total = 0.0, longest = 0.0;
  for (int t = 0; t < threads; ++t) {
    total += flops[static_cast<size_t>(t)];
    longest = std::max(longest, elapsed[static_cast<size_t>(t)]);
  }
  return longest > 0.0 ? total / longest / 1e9 : 0.0;
}

double ClockGhz() {
#if defined(__x86_64__) || defined(__aarch64__)
  double best = 0.0;
  for (int round = 0; round < 3; ++round) {
    constexpr int64_t kIterations = 5000000;  // x 20 dependent additions
    uint64_t x = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < kIterations; ++i) {
#if defined(__x86_64__)
#define RETORT_ADD "add $1, %0\n\t"
#else
#define RETORT_ADD "add %0, %0, #1\n\t"
#endif
      asm volatile(RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD
                       RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD RETORT_ADD
                           RETORT_ADD RETORT_ADD RETORT_ADD
                   : "+r"(x));
#undef RETORT_ADD
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s > 0.0) best = std::max(best, static_cast<double>(kIterations) * 20.0 / s / 1e9);
  }
  return best;
#else
  return 0.0;
#endif
}

}  // namespace retort
