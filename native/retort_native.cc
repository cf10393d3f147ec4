// Retort's native kernels: a packed sgemm of its own (sgemm.cc), im2col and direct
// convolutions, pooling gradients and element-wise steps, working in place on the
// tfjs-backend-wasm heap and spread over the threads of retort::Pool (pool.cc).
//
// Every entry point receives the wasm heap as a typed array (HEAPU8) plus byte offsets into
// it, so no tensor is copied between JavaScript, wasm and native code. Offsets and extents
// are bounds-checked against the heap before any memory is touched; a bad call throws a
// JavaScript RangeError instead of corrupting memory.
//
// Layouts follow tfjs: row-major matrices, NHWC activations, HWIO ([KH, KW, Cin, Cout])
// filters. Convolutions are lowered to im2col + sgemm in row chunks that fit in cache.
//
// Threads: work is split into tasks whose boundaries depend only on the shapes, and every
// output element is computed by one task in a fixed order (reductions over rows are summed
// per fixed block, then over blocks in order), so results are bit-identical whatever the
// thread count.

#include <node_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "pool.h"
#include "sgemm.h"

namespace {

using retort::Pool;
using retort::Sgemm;

int Threads() { return Pool::Get().threads(); }

// Element-wise loops over `size` items in ranges of at least kGrain (not worth threads below).
constexpr int64_t kGrain = 1 << 15;

template <class F>
void Elementwise(int64_t size, F&& fn) {
  if (size < 2 * kGrain || Threads() == 1) {
    fn(int64_t{0}, size);
    return;
  }
  Pool::Get().Ranges(size, kGrain, 4 * Threads(), [&](int64_t begin, int64_t end, int) { fn(begin, end); });
}

// out[i] = sum over p in [0, parts) of partial[p * size + i], in double and in part order (the
// last step of every reduction that is split into fixed parts).
template <class T>
void OrderedSum(const T* partial, int64_t parts, int64_t size, float* out) {
  Elementwise(size, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double sum = 0.0;
      for (int64_t p = 0; p < parts; ++p) sum += partial[p * size + i];
      out[i] = static_cast<float>(sum);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Argument plumbing

struct Heap {
  uint8_t* base = nullptr;
  size_t bytes = 0;
};

class Args {
 public:
  Args(napi_env env, napi_callback_info info, size_t expected) : env_(env), ok_(true) {
    size_t argc = kMax;
    napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr);
    if (argc < expected) Fail("expected " + std::to_string(expected) + " arguments");
    argc_ = argc;
  }

  bool ok() const { return ok_; }

  Heap heap(size_t i) {
    Heap h;
    if (!ok_) return h;
    bool is_typed = false;
    napi_is_typedarray(env_, argv_[i], &is_typed);
    if (is_typed) {
      napi_typedarray_type type;
      size_t length = 0;
      void* data = nullptr;
      napi_value buffer;
      size_t offset = 0;
      if (napi_get_typedarray_info(env_, argv_[i], &type, &length, &data, &buffer, &offset) != napi_ok) {
        Fail("cannot read the heap typed array");
        return h;
      }
      size_t elem = 1;
      switch (type) {
        case napi_int8_array:
        case napi_uint8_array:
        case napi_uint8_clamped_array:
          elem = 1;
          break;
        case napi_int16_array:
        case napi_uint16_array:
          elem = 2;
          break;
        case napi_int32_array:
        case napi_uint32_array:
        case napi_float32_array:
          elem = 4;
          break;
        default:
          elem = 8;
      }
      h.base = static_cast<uint8_t*>(data);
      h.bytes = length * elem;
      return h;
    }
    bool is_buffer = false;
    napi_is_arraybuffer(env_, argv_[i], &is_buffer);
    if (is_buffer) {
      void* data = nullptr;
      size_t length = 0;
      napi_get_arraybuffer_info(env_, argv_[i], &data, &length);
      h.base = static_cast<uint8_t*>(data);
      h.bytes = length;
      return h;
    }
    Fail("argument " + std::to_string(i) + " must be the wasm heap (a typed array or ArrayBuffer)");
    return h;
  }

  int64_t i64(size_t i) {
    if (!ok_) return 0;
    int64_t v = 0;
    if (napi_get_value_int64(env_, argv_[i], &v) != napi_ok) Fail("argument " + std::to_string(i) + " must be a number");
    return v;
  }

  double f64(size_t i) {
    if (!ok_) return 0;
    double v = 0;
    if (napi_get_value_double(env_, argv_[i], &v) != napi_ok) Fail("argument " + std::to_string(i) + " must be a number");
    return v;
  }

  // A float pointer into the heap at byte offset `off` valid for `count` floats.
  float* floats(const Heap& h, int64_t off, int64_t count, const char* what) {
    if (!ok_) return nullptr;
    if (off < 0 || count < 0 || (off & 3) != 0 ||
        static_cast<uint64_t>(off) + static_cast<uint64_t>(count) * 4 > h.bytes) {
      Fail(std::string(what) + ": offset/extent outside the wasm heap");
      return nullptr;
    }
    return reinterpret_cast<float*>(h.base + off);
  }

  void Fail(const std::string& message) {
    if (!ok_) return;
    ok_ = false;
    napi_throw_range_error(env_, nullptr, ("retort_native: " + message).c_str());
  }

 private:
  static constexpr size_t kMax = 32;
  napi_env env_;
  napi_value argv_[kMax];
  size_t argc_ = 0;
  bool ok_;
};

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---------------------------------------------------------------------------------------------
// Epilogues

enum Activation : int64_t { kLinear = 0, kRelu = 1 };

// bias: nullptr, a per-column vector (length n) or a scalar (bias_scalar = true).
void Epilogue(float* c, int64_t m, int64_t n, const float* bias, bool bias_scalar, int64_t act) {
  if (bias == nullptr && act == kLinear) return;
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * n;
    if (bias != nullptr) {
      if (bias_scalar) {
        const float b = bias[0];
        for (int64_t j = 0; j < n; ++j) row[j] += b;
      } else {
        for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
      }
    }
    if (act == kRelu) {
      for (int64_t j = 0; j < n; ++j) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// gemm(heap, batch, m, n, k, transA, transB, aOff, aStride, bOff, bStride, cOff,
//      biasOff, biasMode, act)
// C[b] = op(A[b]) x op(B[b]) (+ bias) (relu), strides in floats (0 broadcasts), C contiguous.
// biasMode: 0 none, 1 per column (n), 2 scalar.

napi_value Gemm(napi_env env, napi_callback_info info) {
  Args args(env, info, 15);
  Heap h = args.heap(0);
  const int64_t batch = args.i64(1), m = args.i64(2), n = args.i64(3), k = args.i64(4);
  const bool ta = args.i64(5) != 0, tb = args.i64(6) != 0;
  const int64_t a_off = args.i64(7), a_stride = args.i64(8), b_off = args.i64(9), b_stride = args.i64(10);
  const int64_t c_off = args.i64(11), bias_off = args.i64(12), bias_mode = args.i64(13), act = args.i64(14);
  if (!args.ok()) return nullptr;
  if (batch < 1 || m < 0 || n < 0 || k < 0) {
    args.Fail("gemm: bad dimensions");
    return nullptr;
  }
  const float* a = args.floats(h, a_off, a_stride * (batch - 1) + m * k, "gemm A");
  const float* b = args.floats(h, b_off, b_stride * (batch - 1) + k * n, "gemm B");
  float* c = args.floats(h, c_off, batch * m * n, "gemm C");
  const float* bias = nullptr;
  if (bias_mode != 0) bias = args.floats(h, bias_off, bias_mode == 1 ? n : 1, "gemm bias");
  if (!args.ok()) return nullptr;
  if (m == 0 || n == 0) return Undefined(env);
  const int64_t lda = ta ? m : k;
  const int64_t ldb = tb ? k : n;
  auto one = [&](int64_t i, bool parallel) {
    float* ci = c + i * m * n;
    Sgemm(ta, tb, m, n, k, a + i * a_stride, lda, b + i * b_stride, ldb, ci, n, false, parallel);
    Epilogue(ci, m, n, bias, bias_mode == 2, act);
  };
  // Many small products: one per task; otherwise each product is split over the threads.
  if (batch >= 2 * Threads() && 2.0 * m * n * k < 4.0e6) {
    Pool::Get().For(batch, [&](int64_t i, int) { one(i, false); });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i, true);
  }
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// Convolution geometry and im2col / col2im

struct Conv {
  int64_t n, h, w, cin, kh, kw, cout, oh, ow, sh, sw, dh, dw, pt, pl;
  int64_t rows() const { return n * oh * ow; }
  int64_t k() const { return kh * kw * cin; }
  // 1x1, stride 1, no padding: the input already is the im2col matrix.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w; }
};

bool ReadConv(Args& args, size_t first, Conv* c) {
  c->n = args.i64(first + 0);
  c->h = args.i64(first + 1);
  c->w = args.i64(first + 2);
  c->cin = args.i64(first + 3);
  c->kh = args.i64(first + 4);
  c->kw = args.i64(first + 5);
  c->cout = args.i64(first + 6);
  c->oh = args.i64(first + 7);
  c->ow = args.i64(first + 8);
  c->sh = args.i64(first + 9);
  c->sw = args.i64(first + 10);
  c->dh = args.i64(first + 11);
  c->dw = args.i64(first + 12);
  c->pt = args.i64(first + 13);
  c->pl = args.i64(first + 14);
  if (!args.ok()) return false;
  if (c->n < 0 || c->h < 0 || c->w < 0 || c->cin < 1 || c->kh < 1 || c->kw < 1 || c->cout < 1 || c->oh < 0 ||
      c->ow < 0 || c->sh < 1 || c->sw < 1 || c->dh < 1 || c->dw < 1) {
    args.Fail("conv: bad geometry");
    return false;
  }
  return true;
}

// Writes rows [r0, r0 + count) of the im2col matrix of x into col (count x k).
void Im2col(const Conv& c, const float* x, int64_t r0, int64_t count, float* col) {
  const int64_t k = c.k();
  const int64_t plane = c.oh * c.ow;
  for (int64_t r = 0; r < count; ++r) {
    const int64_t row = r0 + r;
    const int64_t b = row / plane;
    const int64_t rem = row - b * plane;
    const int64_t oy = rem / c.ow;
    const int64_t ox = rem - oy * c.ow;
    float* dst = col + r * k;
    const float* xb = x + b * c.h * c.w * c.cin;
    for (int64_t i = 0; i < c.kh; ++i) {
      const int64_t iy = oy * c.sh + i * c.dh - c.pt;
      if (iy < 0 || iy >= c.h) {
        std::memset(dst, 0, sizeof(float) * c.kw * c.cin);
        dst += c.kw * c.cin;
        continue;
      }
      const float* xrow = xb + iy * c.w * c.cin;
      for (int64_t j = 0; j < c.kw; ++j) {
        const int64_t ix = ox * c.sw + j * c.dw - c.pl;
        if (ix < 0 || ix >= c.w) {
          std::memset(dst, 0, sizeof(float) * c.cin);
        } else if (c.cin == 1) {
          *dst = xrow[ix];
        } else {
          std::memcpy(dst, xrow + ix * c.cin, sizeof(float) * c.cin);
        }
        dst += c.cin;
      }
    }
  }
}

// Adds rows [r0, r0 + count) of an im2col-shaped matrix back into dx (scatter-add).
void Col2im(const Conv& c, const float* col, int64_t r0, int64_t count, float* dx) {
  const int64_t k = c.k();
  const int64_t plane = c.oh * c.ow;
  for (int64_t r = 0; r < count; ++r) {
    const int64_t row = r0 + r;
    const int64_t b = row / plane;
    const int64_t rem = row - b * plane;
    const int64_t oy = rem / c.ow;
    const int64_t ox = rem - oy * c.ow;
    const float* src = col + r * k;
    float* xb = dx + b * c.h * c.w * c.cin;
    for (int64_t i = 0; i < c.kh; ++i) {
      const int64_t iy = oy * c.sh + i * c.dh - c.pt;
      if (iy < 0 || iy >= c.h) {
        src += c.kw * c.cin;
        continue;
      }
      float* xrow = xb + iy * c.w * c.cin;
      for (int64_t j = 0; j < c.kw; ++j) {
        const int64_t ix = ox * c.sw + j * c.dw - c.pl;
        if (ix >= 0 && ix < c.w) {
          float* d = xrow + ix * c.cin;
          for (int64_t q = 0; q < c.cin; ++q) d[q] += src[q];
        }
        src += c.cin;
      }
    }
  }
}

// Rows per chunk so that one im2col chunk stays around 512 KiB (within a core's L2 beside the
// filter and the output rows), at least 64.
int64_t ChunkRows(const Conv& c, int64_t budget_floats = 1 << 17) {
  const int64_t k = std::max<int64_t>(c.k(), 1);
  return std::max<int64_t>(64, budget_floats / k);
}

// A chunk size (<= budget rows) that gives every thread at least two chunks when there are
// enough rows: the split depends on the thread count, but each output row is computed the same
// way whichever chunk it falls in.
int64_t SplitRows(int64_t rows, int64_t budget) {
  const int64_t threads = Threads();
  int64_t chunk = std::min(rows, budget);
  if (threads > 1) chunk = std::min(chunk, std::max<int64_t>(64, (rows + 2 * threads - 1) / (2 * threads)));
  return std::max<int64_t>(1, chunk);
}

thread_local std::vector<float> scratch;

float* Scratch(size_t floats) {
  if (scratch.size() < floats) scratch.resize(floats);
  return scratch.data();
}

// Convolutions whose im2col rows are short (first layers: cin 1-3, so K = kh*kw*cin <= 32) make
// sgemm inefficient (K = 9 runs at ~5 GFLOP/s); these direct loops vectorise over cout instead.
constexpr int64_t kDirectMaxK = 32;

bool Direct(const Conv& c) { return c.k() <= kDirectMaxK; }

// Cout is a template parameter where it is small and common (8-64), so that the accumulators
// live in registers; `kAny` is the runtime-length fallback.
constexpr int64_t kAny = 0;

// Output pixels (im2col rows) [r0, r1).
template <int64_t kCout>
void DirectForwardT(const Conv& c, const float* x, const float* w, float* y, const float* bias, bool bias_scalar,
                    int64_t act, int64_t r0, int64_t r1) {
  const int64_t cout = kCout == kAny ? c.cout : kCout;
  std::vector<float> acc_buf(static_cast<size_t>(kCout == kAny ? c.cout : 1));
  float local[kCout == kAny ? 1 : kCout];
  float* __restrict__ acc = kCout == kAny ? acc_buf.data() : local;
  const int64_t plane = c.oh * c.ow;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = r / plane, oy = (r % plane) / c.ow, ox = r % c.ow;
    const float* xb = x + b * c.h * c.w * c.cin;
    {
      {
        for (int64_t n = 0; n < cout; ++n) acc[n] = bias == nullptr ? 0.0f : bias[bias_scalar ? 0 : n];
        for (int64_t i = 0; i < c.kh; ++i) {
          const int64_t iy = oy * c.sh + i * c.dh - c.pt;
          if (iy < 0 || iy >= c.h) continue;
          for (int64_t j = 0; j < c.kw; ++j) {
            const int64_t ix = ox * c.sw + j * c.dw - c.pl;
            if (ix < 0 || ix >= c.w) continue;
            const float* px = xb + (iy * c.w + ix) * c.cin;
            const float* wk = w + (i * c.kw + j) * c.cin * cout;
            for (int64_t q = 0; q < c.cin; ++q) {
              const float v = px[q];
              const float* __restrict__ wq = wk + q * cout;
              for (int64_t n = 0; n < cout; ++n) acc[n] += v * wq[n];
            }
          }
        }
        float* __restrict__ out = y + ((b * c.oh + oy) * c.ow + ox) * cout;
        if (act == kRelu) {
          for (int64_t n = 0; n < cout; ++n) out[n] = acc[n] > 0.0f ? acc[n] : 0.0f;
        } else {
          for (int64_t n = 0; n < cout; ++n) out[n] = acc[n];
        }
      }
    }
  }
}

void DirectForwardRows(const Conv& c, const float* x, const float* w, float* y, const float* bias, bool bias_scalar,
                       int64_t act, int64_t r0, int64_t r1) {
  switch (c.cout) {
    case 8:
      return DirectForwardT<8>(c, x, w, y, bias, bias_scalar, act, r0, r1);
    case 16:
      return DirectForwardT<16>(c, x, w, y, bias, bias_scalar, act, r0, r1);
    case 32:
      return DirectForwardT<32>(c, x, w, y, bias, bias_scalar, act, r0, r1);
    case 64:
      return DirectForwardT<64>(c, x, w, y, bias, bias_scalar, act, r0, r1);
    default:
      return DirectForwardT<kAny>(c, x, w, y, bias, bias_scalar, act, r0, r1);
  }
}

void DirectForward(const Conv& c, const float* x, const float* w, float* y, const float* bias, bool bias_scalar,
                   int64_t act) {
  const int64_t rows = c.rows();
  if (Threads() == 1 || rows < 256) return DirectForwardRows(c, x, w, y, bias, bias_scalar, act, 0, rows);
  Pool::Get().Ranges(rows, 128, 4 * Threads(), [&](int64_t r0, int64_t r1, int) {
    DirectForwardRows(c, x, w, y, bias, bias_scalar, act, r0, r1);
  });
}

// dW[k][n] = sum over output pixels of im2col(x)[r][k] * dy[r][n]: float partial sums per block
// of kBlock rows, accumulated in double over the blocks of a task (kTaskBlocks blocks), then over
// the tasks in order.
constexpr int64_t kBlock = 256;
constexpr int64_t kTaskBlocks = 16;

// Rows [r0, r1) into `total` (kk x cout doubles, added to).
template <int64_t kCout>
void DirectBackpropFilterT(const Conv& c, const float* x, const float* dy, int64_t r0, int64_t r1, double* total) {
  const int64_t cout = kCout == kAny ? c.cout : kCout, kk = c.k();
  std::vector<float> part(static_cast<size_t>(kk * cout), 0.0f);
  int64_t in_block = 0;
  auto flush = [&]() {
    for (size_t i = 0; i < part.size(); ++i) total[i] += part[i];
    std::fill(part.begin(), part.end(), 0.0f);
    in_block = 0;
  };
  float local[kCout == kAny ? 1 : kCout];
  const int64_t plane = c.oh * c.ow;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = r / plane, oy = (r % plane) / c.ow, ox = r % c.ow;
    const float* xb = x + b * c.h * c.w * c.cin;
    const float* row = dy + r * cout;
    const float* __restrict__ g = row;
    if (kCout != kAny) {
      for (int64_t n = 0; n < cout; ++n) local[n] = row[n];
      g = local;
    }
    for (int64_t i = 0; i < c.kh; ++i) {
      const int64_t iy = oy * c.sh + i * c.dh - c.pt;
      if (iy < 0 || iy >= c.h) continue;
      for (int64_t j = 0; j < c.kw; ++j) {
        const int64_t ix = ox * c.sw + j * c.dw - c.pl;
        if (ix < 0 || ix >= c.w) continue;
        const float* px = xb + (iy * c.w + ix) * c.cin;
        float* pk = part.data() + (i * c.kw + j) * c.cin * cout;
        for (int64_t q = 0; q < c.cin; ++q) {
          const float v = px[q];
          float* __restrict__ pq = pk + q * cout;
          for (int64_t n = 0; n < cout; ++n) pq[n] += v * g[n];
        }
      }
    }
    if (++in_block == kBlock) flush();
  }
  flush();
}

void DirectBackpropFilterRows(const Conv& c, const float* x, const float* dy, int64_t r0, int64_t r1,
                              double* total) {
  switch (c.cout) {
    case 8:
      return DirectBackpropFilterT<8>(c, x, dy, r0, r1, total);
    case 16:
      return DirectBackpropFilterT<16>(c, x, dy, r0, r1, total);
    case 32:
      return DirectBackpropFilterT<32>(c, x, dy, r0, r1, total);
    case 64:
      return DirectBackpropFilterT<64>(c, x, dy, r0, r1, total);
    default:
      return DirectBackpropFilterT<kAny>(c, x, dy, r0, r1, total);
  }
}

void DirectBackpropFilter(const Conv& c, const float* x, const float* dy, float* dw) {
  const int64_t rows = c.rows(), size = c.k() * c.cout;
  const int64_t per_task = kBlock * kTaskBlocks;
  const int64_t tasks = (rows + per_task - 1) / per_task;
  std::vector<double> totals(static_cast<size_t>(tasks * size), 0.0);
  Pool::Get().For(tasks, [&](int64_t t, int) {
    DirectBackpropFilterRows(c, x, dy, t * per_task, std::min(rows, (t + 1) * per_task), totals.data() + t * size);
  });
  OrderedSum(totals.data(), tasks, size, dw);
}

// conv2d(heap, xOff, wOff, yOff, biasOff, biasMode, act, ...geometry(15))
napi_value Conv2d(napi_env env, napi_callback_info info) {
  Args args(env, info, 22);
  Heap h = args.heap(0);
  const int64_t x_off = args.i64(1), w_off = args.i64(2), y_off = args.i64(3);
  const int64_t bias_off = args.i64(4), bias_mode = args.i64(5), act = args.i64(6);
  Conv c{};
  if (!ReadConv(args, 7, &c)) return nullptr;
  const float* x = args.floats(h, x_off, c.n * c.h * c.w * c.cin, "conv2d x");
  const float* w = args.floats(h, w_off, c.k() * c.cout, "conv2d filter");
  float* y = args.floats(h, y_off, c.rows() * c.cout, "conv2d y");
  const float* bias = nullptr;
  if (bias_mode != 0) bias = args.floats(h, bias_off, bias_mode == 1 ? c.cout : 1, "conv2d bias");
  if (!args.ok()) return nullptr;
  const int64_t rows = c.rows(), k = c.k();
  if (rows == 0) return Undefined(env);
  if (Direct(c)) {
    DirectForward(c, x, w, y, bias, bias_mode == 2, act);
    return Undefined(env);
  }
  if (c.pointwise()) {
    Sgemm(false, false, rows, c.cout, k, x, k, w, c.cout, y, c.cout, false);
    Epilogue(y, rows, c.cout, bias, bias_mode == 2, act);
    return Undefined(env);
  }
  // One task per chunk of rows: im2col into the thread's scratch, then a serial sgemm.
  const int64_t chunk = SplitRows(rows, ChunkRows(c));
  const int64_t chunks = (rows + chunk - 1) / chunk;
  Pool::Get().For(chunks, [&](int64_t t, int) {
    const int64_t r0 = t * chunk, count = std::min(chunk, rows - r0);
    float* col = Scratch(static_cast<size_t>(chunk * k));
    Im2col(c, x, r0, count, col);
    float* yc = y + r0 * c.cout;
    Sgemm(false, false, count, c.cout, k, col, k, w, c.cout, yc, c.cout, false, false);
    Epilogue(yc, count, c.cout, bias, bias_mode == 2, act);
  });
  return Undefined(env);
}

// conv2dBackpropFilter(heap, xOff, dyOff, dwOff, ...geometry(15))
// dW (k x cout) = im2col(x)^T x dy
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  Args args(env, info, 19);
  Heap h = args.heap(0);
  const int64_t x_off = args.i64(1), dy_off = args.i64(2), dw_off = args.i64(3);
  Conv c{};
  if (!ReadConv(args, 4, &c)) return nullptr;
  const float* x = args.floats(h, x_off, c.n * c.h * c.w * c.cin, "conv2dBackpropFilter x");
  const float* dy = args.floats(h, dy_off, c.rows() * c.cout, "conv2dBackpropFilter dy");
  float* dw = args.floats(h, dw_off, c.k() * c.cout, "conv2dBackpropFilter dw");
  if (!args.ok()) return nullptr;
  const int64_t rows = c.rows(), k = c.k();
  if (rows == 0) {
    std::fill(dw, dw + k * c.cout, 0.0f);
    return Undefined(env);
  }
  if (Direct(c)) {
    DirectBackpropFilter(c, x, dy, dw);
    return Undefined(env);
  }
  if (c.pointwise()) {
    Sgemm(true, false, k, c.cout, rows, x, k, dy, c.cout, dw, c.cout, false);
    return Undefined(env);
  }
  // Fixed chunks of rows (from the shapes only), one task each: im2col into the thread's
  // scratch and a serial product into the chunk's own partial dW; the partials are then summed
  // in chunk order, in double. Every thread works in its own cache and the result does not
  // depend on the thread count.
  // (~2 MiB chunks: each is a rank-`count` update, and longer ones run the product faster.)
  const int64_t chunk = std::min(rows, std::max<int64_t>(256, (ChunkRows(c, 1 << 19) / 256) * 256));
  const int64_t chunks = (rows + chunk - 1) / chunk, size = k * c.cout;
  if (chunks == 1) {
    float* col = Scratch(static_cast<size_t>(rows * k));
    Im2col(c, x, 0, rows, col);
    Sgemm(true, false, k, c.cout, rows, col, k, dy, c.cout, dw, c.cout, false);
    return Undefined(env);
  }
  std::vector<float> partial(static_cast<size_t>(chunks * size));
  Pool::Get().For(chunks, [&](int64_t t, int) {
    const int64_t r0 = t * chunk, count = std::min(chunk, rows - r0);
    float* col = Scratch(static_cast<size_t>(chunk * k));
    Im2col(c, x, r0, count, col);
    Sgemm(true, false, k, c.cout, count, col, k, dy + r0 * c.cout, c.cout, partial.data() + t * size, c.cout, false,
          false);
  });
  OrderedSum(partial.data(), chunks, size, dw);
  return Undefined(env);
}

// conv2dBackpropInput(heap, dyOff, wOff, dxOff, ...geometry(15))
// dcol (rows x k) = dy x W^T, then col2im into dx.
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  Args args(env, info, 19);
  Heap h = args.heap(0);
  const int64_t dy_off = args.i64(1), w_off = args.i64(2), dx_off = args.i64(3);
  Conv c{};
  if (!ReadConv(args, 4, &c)) return nullptr;
  const float* dy = args.floats(h, dy_off, c.rows() * c.cout, "conv2dBackpropInput dy");
  const float* w = args.floats(h, w_off, c.k() * c.cout, "conv2dBackpropInput filter");
  float* dx = args.floats(h, dx_off, c.n * c.h * c.w * c.cin, "conv2dBackpropInput dx");
  if (!args.ok()) return nullptr;
  const int64_t rows = c.rows(), k = c.k();
  if (c.pointwise()) {
    if (rows > 0) Sgemm(false, true, rows, k, c.cout, dy, c.cout, w, c.cout, dx, k, false);
    return Undefined(env);
  }
  const int64_t image = c.h * c.w * c.cin, plane = c.oh * c.ow;
  if (rows == 0 || plane == 0) {
    std::fill(dx, dx + c.n * image, 0.0f);
    return Undefined(env);
  }
  // Tasks of whole images (col2im of one image never touches another's dx), so the scatter-add
  // needs no locks and runs in the same order whatever the thread count.
  const int64_t images = std::max<int64_t>(1, SplitRows(rows, ChunkRows(c)) / plane);
  const int64_t tasks = (c.n + images - 1) / images;
  Pool::Get().For(tasks, [&](int64_t t, int) {
    const int64_t b0 = t * images, b1 = std::min(c.n, b0 + images);
    std::fill(dx + b0 * image, dx + b1 * image, 0.0f);
    const int64_t task_rows = (b1 - b0) * plane;
    const int64_t chunk = std::min(task_rows, ChunkRows(c));
    float* col = Scratch(static_cast<size_t>(chunk * k));
    for (int64_t r = 0; r < task_rows; r += chunk) {
      const int64_t r0 = b0 * plane + r, count = std::min(chunk, task_rows - r);
      Sgemm(false, true, count, k, c.cout, dy + r0 * c.cout, c.cout, w, c.cout, col, k, false, tasks == 1);
      Col2im(c, col, r0, count, dx);
    }
  });
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// Max-pool gradient of images [b0, b1) (a plain function with restrict pointers: inside a
// lambda the loops below lose their vectorisation).

struct Pool2d {
  int64_t h, w, ch, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

void MaxPoolGradImages(const Pool2d g, const float* __restrict__ x, const float* __restrict__ dy,
                       float* __restrict__ dx, int64_t b0, int64_t b1) {
  const int64_t h = g.h, w = g.w, ch = g.ch, oh = g.oh, ow = g.ow;
  std::fill(dx + b0 * h * w * ch, dx + b1 * h * w * ch, 0.0f);
  std::vector<float> best_buf(static_cast<size_t>(ch));
  std::vector<int64_t> where_buf(static_cast<size_t>(ch));
  float* __restrict__ best = best_buf.data();
  int64_t* __restrict__ where = where_buf.data();
  for (int64_t b = b0; b < b1; ++b) {
    const float* xb = x + b * h * w * ch;
    float* dxb = dx + b * h * w * ch;
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        for (int64_t q = 0; q < ch; ++q) {
          best[q] = -INFINITY;
          where[q] = -1;
        }
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t iy = oy * g.sh + i * g.dh - g.pt;
          if (iy < 0 || iy >= h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t ix = ox * g.sw + j * g.dw - g.pl;
            if (ix < 0 || ix >= w) continue;
            const int64_t base = (iy * w + ix) * ch;
            const float* px = xb + base;
            for (int64_t q = 0; q < ch; ++q) {
              const bool more = px[q] > best[q];
              best[q] = more ? px[q] : best[q];
              where[q] = more ? base + q : where[q];
            }
          }
        }
        const float* gy = dy + ((b * oh + oy) * ow + ox) * ch;
        for (int64_t q = 0; q < ch; ++q) {
          if (where[q] >= 0) dxb[where[q]] += gy[q];
        }
      }
    }
  }
}

// Max pooling of images [b0, b1): the largest in-bounds value of each window (-inf for a window
// with none; NaN never wins, as in tfjs-cpu).
void MaxPoolImages(const Pool2d g, const float* __restrict__ x, float* __restrict__ y, int64_t b0, int64_t b1) {
  const int64_t h = g.h, w = g.w, ch = g.ch, oh = g.oh, ow = g.ow;
  for (int64_t b = b0; b < b1; ++b) {
    const float* xb = x + b * h * w * ch;
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        float* __restrict__ out = y + ((b * oh + oy) * ow + ox) * ch;
        for (int64_t q = 0; q < ch; ++q) out[q] = -INFINITY;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t iy = oy * g.sh + i * g.dh - g.pt;
          if (iy < 0 || iy >= h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t ix = ox * g.sw + j * g.dw - g.pl;
            if (ix < 0 || ix >= w) continue;
            const float* px = xb + (iy * w + ix) * ch;
            for (int64_t q = 0; q < ch; ++q) out[q] = px[q] > out[q] ? px[q] : out[q];
          }
        }
      }
    }
  }
}

// Reads the pooling geometry shared by maxPool and maxPoolGrad from arguments [first, first + 14).
bool ReadPool(Args& args, size_t first, const char* kernel, int64_t* n, Pool2d* g) {
  *n = args.i64(first);
  *g = Pool2d{args.i64(first + 1),  args.i64(first + 2),  args.i64(first + 3),  args.i64(first + 4),
              args.i64(first + 5),  args.i64(first + 6),  args.i64(first + 7),  args.i64(first + 8),
              args.i64(first + 9),  args.i64(first + 10), args.i64(first + 11), args.i64(first + 12),
              args.i64(first + 13)};
  if (!args.ok()) return false;
  if (*n < 0 || g->h < 0 || g->w < 0 || g->ch < 1 || g->oh < 0 || g->ow < 0 || g->kh < 1 || g->kw < 1 || g->sh < 1 ||
      g->sw < 1 || g->dh < 1 || g->dw < 1) {
    args.Fail(std::string(kernel) + ": bad geometry");
    return false;
  }
  return true;
}

// maxPool(heap, xOff, yOff, n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl)
napi_value MaxPool(napi_env env, napi_callback_info info) {
  Args args(env, info, 17);
  Heap hp = args.heap(0);
  const int64_t x_off = args.i64(1), y_off = args.i64(2);
  int64_t n = 0;
  Pool2d g{};
  if (!ReadPool(args, 3, "maxPool", &n, &g)) return nullptr;
  const float* x = args.floats(hp, x_off, n * g.h * g.w * g.ch, "maxPool x");
  float* y = args.floats(hp, y_off, n * g.oh * g.ow * g.ch, "maxPool y");
  if (!args.ok()) return nullptr;
  const int64_t per = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, g.h * g.w * g.ch));
  const int64_t tasks = (n + per - 1) / per;
  Pool::Get().For(tasks, [&](int64_t t, int) { MaxPoolImages(g, x, y, t * per, std::min(n, (t + 1) * per)); });
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// maxPoolGrad(heap, xOff, dyOff, dxOff, n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl)
// Routes each dy to the first maximum (row-major window order) of its window, like tfjs-cpu.

napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  Args args(env, info, 18);
  Heap hp = args.heap(0);
  const int64_t x_off = args.i64(1), dy_off = args.i64(2), dx_off = args.i64(3);
  int64_t n = 0;
  Pool2d g{};
  if (!ReadPool(args, 4, "maxPoolGrad", &n, &g)) return nullptr;
  const float* x = args.floats(hp, x_off, n * g.h * g.w * g.ch, "maxPoolGrad x");
  const float* dy = args.floats(hp, dy_off, n * g.oh * g.ow * g.ch, "maxPoolGrad dy");
  float* dx = args.floats(hp, dx_off, n * g.h * g.w * g.ch, "maxPoolGrad dx");
  if (!args.ok()) return nullptr;
  // Tasks of whole images: an image's windows only touch its own dx.
  const int64_t per = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, g.h * g.w * g.ch));
  const int64_t tasks = (n + per - 1) / per;
  Pool::Get().For(tasks, [&](int64_t t, int) { MaxPoolGradImages(g, x, dy, dx, t * per, std::min(n, (t + 1) * per)); });
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// sumOuter(heap, xOff, outOff, outer, inner): out[j] = sum_i x[i * inner + j] (double accumulation)

napi_value SumOuter(napi_env env, napi_callback_info info) {
  Args args(env, info, 5);
  Heap h = args.heap(0);
  const int64_t x_off = args.i64(1), out_off = args.i64(2), outer = args.i64(3), inner = args.i64(4);
  if (!args.ok()) return nullptr;
  if (outer < 0 || inner < 0) {
    args.Fail("sumOuter: bad dimensions");
    return nullptr;
  }
  const float* x = args.floats(h, x_off, outer * inner, "sumOuter x");
  float* out = args.floats(h, out_off, inner, "sumOuter out");
  if (!args.ok()) return nullptr;
  // Rows in fixed blocks (a task each), each block summed in double, the blocks' sums added in
  // order; narrow sums of few rows are split by columns instead.
  constexpr int64_t kRows = 1024;
  const int64_t blocks = (outer + kRows - 1) / kRows;
  if (blocks >= 2 && outer * inner >= 2 * kGrain) {
    std::vector<double> part(static_cast<size_t>(blocks * inner), 0.0);
    Pool::Get().For(blocks, [&](int64_t t, int) {
      double* a = part.data() + t * inner;
      for (int64_t i = t * kRows; i < std::min(outer, (t + 1) * kRows); ++i) {
        const float* row = x + i * inner;
        for (int64_t j = 0; j < inner; ++j) a[j] += row[j];
      }
    });
    OrderedSum(part.data(), blocks, inner, out);
    return Undefined(env);
  }
  auto columns = [&](int64_t j0, int64_t j1, int) {
    std::vector<double> acc(static_cast<size_t>(j1 - j0), 0.0);
    double* a = acc.data();
    for (int64_t i = 0; i < outer; ++i) {
      const float* row = x + i * inner + j0;
      for (int64_t j = 0; j < j1 - j0; ++j) a[j] += row[j];
    }
    for (int64_t j = j0; j < j1; ++j) out[j] = static_cast<float>(a[j - j0]);
  };
  if (outer * inner >= 2 * kGrain && Threads() > 1) {
    Pool::Get().Ranges(inner, 64, 2 * Threads(), columns);
  } else {
    columns(0, inner, 0);
  }
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// broadcast(heap, op, bigOff, smallOff, outOff, total, inner, prefix, smallFirst)
// out[i] = big[i] (op) small[j] for a small operand broadcast along a suffix (j = i % inner,
// `inner` = its size) or a prefix (j = i / inner, `inner` = the block it is constant over).
// `smallFirst` swaps the operands (small op big). op: 0 add, 1 sub, 2 mul, 3 div.

template <int Op, bool SmallFirst>
inline float Apply(float big, float small) {
  const float a = SmallFirst ? small : big;
  const float b = SmallFirst ? big : small;
  if (Op == 0) return a + b;
  if (Op == 1) return a - b;
  if (Op == 2) return a * b;
  return a / b;
}

// Blocks [q0, q1) of `inner` elements.
template <int Op, bool SmallFirst>
void BroadcastBlocks(const float* big, const float* small, float* out, int64_t q0, int64_t q1, int64_t inner,
                     bool prefix) {
  const int64_t begin = q0 * inner, total = q1 * inner;
  if (prefix) {
    for (int64_t i0 = begin, j = q0; i0 < total; i0 += inner, ++j) {
      const float s = small[j];
      const float* bp = big + i0;
      float* op = out + i0;
      for (int64_t i = 0; i < inner; ++i) op[i] = Apply<Op, SmallFirst>(bp[i], s);
    }
  } else {
    for (int64_t i0 = begin; i0 < total; i0 += inner) {
      const float* bp = big + i0;
      float* op = out + i0;
      for (int64_t i = 0; i < inner; ++i) op[i] = Apply<Op, SmallFirst>(bp[i], small[i]);
    }
  }
}

template <int Op, bool SmallFirst>
void Broadcast(const float* big, const float* small, float* out, int64_t total, int64_t inner, bool prefix) {
  const int64_t blocks = total / inner;
  if (!prefix && blocks == 1 && total >= 2 * kGrain && Threads() > 1) {
    // Two operands of the same size: split the elements.
    Elementwise(total, [big, small, out](int64_t i0, int64_t i1) {
      const float* __restrict__ a = big + i0;
      const float* __restrict__ b = small + i0;
      float* __restrict__ o = out + i0;
      for (int64_t i = 0; i < i1 - i0; ++i) o[i] = Apply<Op, SmallFirst>(a[i], b[i]);
    });
    return;
  }
  if (total < 2 * kGrain || Threads() == 1 || blocks < 2) {
    BroadcastBlocks<Op, SmallFirst>(big, small, out, 0, blocks, inner, prefix);
    return;
  }
  Pool::Get().Ranges(blocks, std::max<int64_t>(1, kGrain / inner), 4 * Threads(), [&](int64_t q0, int64_t q1, int) {
    BroadcastBlocks<Op, SmallFirst>(big, small, out, q0, q1, inner, prefix);
  });
}

template <int Op>
void BroadcastOrdered(bool small_first, const float* big, const float* small, float* out, int64_t total,
                      int64_t inner, bool prefix) {
  if (small_first) {
    Broadcast<Op, true>(big, small, out, total, inner, prefix);
  } else {
    Broadcast<Op, false>(big, small, out, total, inner, prefix);
  }
}

napi_value BroadcastBinary(napi_env env, napi_callback_info info) {
  Args args(env, info, 9);
  Heap h = args.heap(0);
  const int64_t op = args.i64(1), big_off = args.i64(2), small_off = args.i64(3), out_off = args.i64(4);
  const int64_t total = args.i64(5), inner = args.i64(6);
  const bool prefix = args.i64(7) != 0, small_first = args.i64(8) != 0;
  if (!args.ok()) return nullptr;
  if (op < 0 || op > 3 || total < 0 || inner < 1 || total % inner != 0) {
    args.Fail("broadcast: bad arguments");
    return nullptr;
  }
  const float* big = args.floats(h, big_off, total, "broadcast big");
  const float* small = args.floats(h, small_off, prefix ? total / inner : inner, "broadcast small");
  float* out = args.floats(h, out_off, total, "broadcast out");
  if (!args.ok()) return nullptr;
  switch (op) {
    case 0:
      BroadcastOrdered<0>(small_first, big, small, out, total, inner, prefix);
      break;
    case 1:
      BroadcastOrdered<1>(small_first, big, small, out, total, inner, prefix);
      break;
    case 2:
      BroadcastOrdered<2>(small_first, big, small, out, total, inner, prefix);
      break;
    default:
      BroadcastOrdered<3>(small_first, big, small, out, total, inner, prefix);
  }
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// tile(heap, xOff, outOff, rank, shape..., reps...): out = tile(x, reps); shape/reps passed as
// two arrays of `rank` numbers. Trailing dims that are not repeated are copied as one block.

napi_value Tile(napi_env env, napi_callback_info info) {
  Args args(env, info, 4);
  Heap h = args.heap(0);
  const int64_t x_off = args.i64(1), out_off = args.i64(2), rank = args.i64(3);
  if (!args.ok()) return nullptr;
  if (rank < 1 || rank > 8) {
    args.Fail("tile: rank must be 1..8");
    return nullptr;
  }
  Args all(env, info, static_cast<size_t>(4 + 2 * rank));
  if (!all.ok()) return nullptr;
  int64_t shape[8], reps[8], out_shape[8];
  int64_t in_size = 1, out_size = 1;
  for (int64_t i = 0; i < rank; ++i) {
    shape[i] = all.i64(static_cast<size_t>(4 + i));
    reps[i] = all.i64(static_cast<size_t>(4 + rank + i));
    if (shape[i] < 0 || reps[i] < 1) {
      all.Fail("tile: bad shape or reps");
      return nullptr;
    }
    out_shape[i] = shape[i] * reps[i];
    in_size *= shape[i];
    out_size *= out_shape[i];
  }
  if (!all.ok()) return nullptr;
  const float* x = all.floats(h, x_off, in_size, "tile x");
  float* out = all.floats(h, out_off, out_size, "tile out");
  if (!all.ok() || out_size == 0) return all.ok() ? Undefined(env) : nullptr;
  int64_t k = rank, block = 1;
  while (k > 0 && reps[k - 1] == 1) block *= shape[--k];
  int64_t stride[8];
  int64_t acc = block;
  for (int64_t i = k - 1; i >= 0; --i) {
    stride[i] = acc;
    acc *= shape[i];
  }
  int64_t idx[8] = {0};
  const int64_t positions = out_size / block;
  for (int64_t p = 0; p < positions; ++p) {
    int64_t src = 0;
    for (int64_t i = 0; i < k; ++i) src += (idx[i] % shape[i]) * stride[i];
    std::memcpy(out + p * block, x + src, sizeof(float) * block);
    for (int64_t i = k - 1; i >= 0; --i) {
      if (++idx[i] < out_shape[i]) break;
      idx[i] = 0;
    }
  }
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// reluGrad(heap, dyOff, xOff, outOff, size): out = x > 0 ? dy : 0 (NaN where x is NaN, as
// tfjs's dy * step(x)).

napi_value ReluGrad(napi_env env, napi_callback_info info) {
  Args args(env, info, 5);
  Heap h = args.heap(0);
  const int64_t dy_off = args.i64(1), x_off = args.i64(2), out_off = args.i64(3), size = args.i64(4);
  if (!args.ok()) return nullptr;
  const float* __restrict__ dy = args.floats(h, dy_off, size, "reluGrad dy");
  const float* __restrict__ x = args.floats(h, x_off, size, "reluGrad x");
  float* __restrict__ out = args.floats(h, out_off, size, "reluGrad out");
  if (!args.ok()) return nullptr;
  Elementwise(size, [dy, x, out](int64_t i0, int64_t i1) {
    // (local restrict pointers: a lambda's captures lose the qualifier, and with it vectorisation)
    const float* __restrict__ d = dy + i0;
    const float* __restrict__ v = x + i0;
    float* __restrict__ o = out + i0;
    for (int64_t i = 0; i < i1 - i0; ++i) {
      const float xi = v[i];
      o[i] = xi > 0.0f ? d[i] : (xi != xi ? xi : 0.0f);
    }
  });
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// adam(heap, pOff, gOff, mOff, vOff, pOut, mOut, vOut, size, lr, beta1, beta2, eps, accBeta1, accBeta2)
// One Adam step exactly as tfjs-core's AdamOptimizer computes it, writing new tensors.

napi_value Adam(napi_env env, napi_callback_info info) {
  Args args(env, info, 15);
  Heap h = args.heap(0);
  const int64_t p_off = args.i64(1), g_off = args.i64(2), m_off = args.i64(3), v_off = args.i64(4);
  const int64_t po_off = args.i64(5), mo_off = args.i64(6), vo_off = args.i64(7), size = args.i64(8);
  const float lr = static_cast<float>(args.f64(9)), b1 = static_cast<float>(args.f64(10)),
              b2 = static_cast<float>(args.f64(11)), eps = static_cast<float>(args.f64(12));
  const float c1 = static_cast<float>(1.0 - args.f64(13)), c2 = static_cast<float>(1.0 - args.f64(14));
  if (!args.ok()) return nullptr;
  const float* p = args.floats(h, p_off, size, "adam param");
  const float* g = args.floats(h, g_off, size, "adam grad");
  const float* m = args.floats(h, m_off, size, "adam m");
  const float* v = args.floats(h, v_off, size, "adam v");
  float* po = args.floats(h, po_off, size, "adam param out");
  float* mo = args.floats(h, mo_off, size, "adam m out");
  float* vo = args.floats(h, vo_off, size, "adam v out");
  if (!args.ok()) return nullptr;
  const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
  Elementwise(size, [&](int64_t i0, int64_t i1) {
    const float* __restrict__ pr = p + i0;
    const float* __restrict__ gr = g + i0;
    const float* __restrict__ mr = m + i0;
    const float* __restrict__ vr = v + i0;
    float* __restrict__ por = po + i0;
    float* __restrict__ mor = mo + i0;
    float* __restrict__ vor = vo + i0;
    for (int64_t i = 0; i < i1 - i0; ++i) {
      const float gi = gr[i];
      const float mi = mr[i] * b1 + gi * ob1;
      const float vi = vr[i] * b2 + (gi * gi) * ob2;
      mor[i] = mi;
      vor[i] = vi;
      por[i] = (mi / c1) / (std::sqrt(vi / c2) + eps) * -lr + pr[i];
    }
  });
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------
// Threads

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args args(env, info, 1);
  const int64_t n = args.i64(0);
  if (!args.ok()) return nullptr;
  Pool::Get().SetThreads(static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n, 256))));
  return Undefined(env);
}

napi_value GetThreads(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, Pool::Get().threads(), &out);
  return out;
}

// info(): the build, as "retort-native <version>; sgemm <kernel>; <compiler>; <flags>".
napi_value Info(napi_env env, napi_callback_info) {
  napi_value out;
  std::string text = std::string("retort-native 2; sgemm ") + retort::SgemmKernelName() + "; ";
#if defined(__clang__)
  text += "clang " __clang_version__;
#elif defined(__GNUC__)
  text += "gcc " __VERSION__;
#endif
#ifdef RETORT_BUILD_FLAGS
  text += std::string("; ") + RETORT_BUILD_FLAGS;
#endif
  napi_create_string_utf8(env, text.c_str(), NAPI_AUTO_LENGTH, &out);
  return out;
}

// peak(threads, seconds): the fp32 multiply-add throughput this CPU reaches on `threads` threads
// (independent fused multiply-adds on registers, the sgemm micro-kernel's instruction mix without
// its loads), in GFLOP/s; and clock(): the core clock in GHz, from a chain of dependent integer
// additions (one per cycle). Both are measured, not read from the CPU's name.
napi_value Peak(napi_env env, napi_callback_info info) {
  Args args(env, info, 2);
  const int64_t threads = args.i64(0);
  const double seconds = args.f64(1);
  if (!args.ok()) return nullptr;
  const double gflops = retort::PeakGflops(static_cast<int>(std::max<int64_t>(1, threads)), seconds);
  napi_value out;
  napi_create_double(env, gflops, &out);
  return out;
}

napi_value Clock(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_double(env, retort::ClockGhz(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2dBackpropFilter, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2dBackpropInput, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"broadcast", nullptr, BroadcastBinary, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"tile", nullptr, Tile, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sumOuter", nullptr, SumOuter, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"getThreads", nullptr, GetThreads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"peak", nullptr, Peak, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"clock", nullptr, Clock, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
