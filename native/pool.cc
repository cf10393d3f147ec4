// See pool.h.

#include "pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RETORT_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define RETORT_PAUSE() asm volatile("yield")
#else
#define RETORT_PAUSE() \
  do {                 \
  } while (0)
#endif

namespace retort {

namespace {
thread_local bool in_task = false;
// Spin iterations (each a pause instruction, ~10-40 ns) before a worker sleeps.
constexpr int kSpin = 20000;
}  // namespace

Pool& Pool::Get() {
  static Pool* pool = new Pool();  // never destroyed: workers may outlive static destructors
  return *pool;
}

Pool::~Pool() { Stop(); }

void Pool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  stopping_ = false;
}

void Pool::SetThreads(int n) {
  n = std::max(1, std::min(n, 256));
  std::lock_guard<std::mutex> busy(busy_);
  if (n == threads_ && static_cast<int>(workers_.size()) == n - 1) return;
  Stop();
  threads_ = n;
  // A worker starts from the generation current now, not the one it sees when it first runs
  // (by then the caller may already have posted the next job).
  const uint64_t seen = generation_.load(std::memory_order_acquire);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, seen] { Worker(i, seen); });
}

void Pool::Drain(int worker) {
  const auto& fn = *job_;
  for (;;) {
    const int64_t task = next_.fetch_add(1, std::memory_order_relaxed);
    if (task >= tasks_) break;
    fn(task, worker);
  }
}

namespace {
constexpr uint64_t kClosed = uint64_t{1} << 31;
constexpr uint64_t kInside = kClosed - 1;
inline uint64_t GateOf(uint64_t generation) { return (generation & 0xffffffffu) << 32; }
}  // namespace

void Pool::Worker(int index, uint64_t seen) {
  in_task = true;
  for (;;) {
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < kSpin; ++spin) {
      RETORT_PAUSE();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    // Join the job of generation `now` if it is still open; job_ and tasks_ are then that job's
    // and stay valid until this worker leaves (the caller waits for "inside" to drop to 0).
    uint64_t gate = gate_.load(std::memory_order_acquire);
    bool joined = false;
    while ((gate & ~(kClosed | kInside)) == GateOf(now) && (gate & kClosed) == 0) {
      if (gate_.compare_exchange_weak(gate, gate + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    Drain(index);
    const uint64_t left = gate_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if ((left & kClosed) != 0 && (left & kInside) == 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void Pool::For(int64_t tasks, const std::function<void(int64_t, int)>& fn) {
  if (tasks <= 0) return;
  std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
  if (tasks == 1 || threads_ == 1 || in_task || !busy.owns_lock()) {
    for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    tasks_ = tasks;
    next_.store(0, std::memory_order_relaxed);
    generation = generation_.load(std::memory_order_relaxed) + 1;
    gate_.store(GateOf(generation), std::memory_order_release);
    generation_.store(generation, std::memory_order_release);
  }
  wake_.notify_all();
  in_task = true;
  Drain(0);
  in_task = false;
  // Every task is claimed: close the job to latecomers, then wait for the workers inside to
  // finish the tasks they hold (spin first, then sleep).
  const uint64_t closed = gate_.fetch_or(kClosed, std::memory_order_acq_rel) | kClosed;
  if ((closed & kInside) != 0) {
    for (int spin = 0; (gate_.load(std::memory_order_acquire) & kInside) != 0 && spin < kSpin * 4; ++spin)
      RETORT_PAUSE();
    if ((gate_.load(std::memory_order_acquire) & kInside) != 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [&] { return (gate_.load(std::memory_order_acquire) & kInside) == 0; });
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  job_ = nullptr;
}

void Pool::Ranges(int64_t total, int64_t grain, int64_t parts,
                  const std::function<void(int64_t, int64_t, int)>& fn) {
  if (total <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  parts = std::max<int64_t>(1, std::min(parts, (total + grain - 1) / grain));
  const int64_t size = (total + parts - 1) / parts;
  For(parts, [&](int64_t p, int worker) {
    const int64_t begin = p * size;
    const int64_t end = std::min(total, begin + size);
    if (begin < end) fn(begin, end, worker);
  });
}

}  // namespace retort
