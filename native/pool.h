// A fork-join thread pool for Retort's native kernels.
//
// `Pool::Get().For(tasks, fn)` runs fn(task, worker) for every task in [0, tasks) on the pool's
// worker threads and the calling thread, and returns when all are done. Tasks are claimed from
// an atomic counter (dynamic scheduling), so a kernel whose results must not depend on the
// thread count writes each task's output to a place that depends only on the task index; the
// worker index (0 = the caller) is only for choosing per-thread scratch memory.
//
// Workers spin briefly after a job (the kernels of one training step come in quick succession)
// and then sleep on a condition variable. The caller works on the tasks itself and waits only
// for workers that have joined the job and are still running a task: a worker that wakes late
// (asleep, or descheduled on a loaded machine) finds the job closed and skips it, instead of
// holding every call up until the scheduler runs it. A call from inside a task, or from a
// second thread while a job is running, runs serially on the caller.

#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace retort {

class Pool {
 public:
  static Pool& Get();

  // Total threads including the caller (>= 1). Workers are started or stopped as needed.
  void SetThreads(int n);
  int threads() const { return threads_; }

  // Runs fn(task, worker) for task in [0, tasks). worker is in [0, threads()).
  void For(int64_t tasks, const std::function<void(int64_t, int)>& fn);

  // Splits [0, total) into at most `parts` contiguous ranges of at least `grain` items and runs
  // fn(begin, end, worker) on each. The ranges depend only on total, grain and parts.
  void Ranges(int64_t total, int64_t grain, int64_t parts, const std::function<void(int64_t, int64_t, int)>& fn);

  ~Pool();

 private:
  Pool() = default;
  void Worker(int index, uint64_t seen);
  void Drain(int worker);
  void Stop();

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::mutex busy_;
  const std::function<void(int64_t, int)>* job_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  // The job's gate: generation (high 32 bits), closed (bit 31), workers inside (low 31 bits).
  // A worker joins by incrementing "inside" only while the generation is its own and the job is
  // open; the caller closes the job once every task is claimed and waits for "inside" to be 0.
  std::atomic<uint64_t> gate_{0};
  std::atomic<uint64_t> generation_{0};
  bool stopping_ = false;
};

}  // namespace retort
