#include "pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WP_PAUSE() _mm_pause()
#else
#define WP_PAUSE() std::this_thread::yield()
#endif

namespace wp {

int configured_threads() {
  if (const char* text = std::getenv("WEIGHT_PREDICTION_THREADS")) {
    const int n = std::atoi(text);
    if (n >= 1) return std::min(n, 64);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::max(1u, std::min(hw, 64u)));
}

namespace {

// How long an idle worker spins before it sleeps: longer than the JS between two kernels of a
// training step, short enough that an idle process gives the core back at once.
constexpr auto kSpin = std::chrono::microseconds(200);

// Set on the pool's threads while they run a task: a parallel_for inside one runs serially.
thread_local bool in_task = false;

class Pool {
 public:
  Pool() {
    threads_ = configured_threads();
    // Workers for every core (they sleep when unused), so set_threads can raise the count later.
    const int capacity = std::max<int>(threads_, std::thread::hardware_concurrency());
    capacity_ = capacity;
    slots_ = std::make_unique<Slot[]>(capacity);
    claims_ = std::make_unique<std::atomic<bool>[]>(capacity);
    for (int i = 0; i < capacity; i++) claims_[i].store(true);
    for (int i = 1; i < capacity; i++) workers_.emplace_back([this, i] { Work(slots_[i], i); });
  }

  ~Pool() {
    stop_.store(true);
    for (int i = 1; i < capacity_; i++) Signal(slots_[i], ++generation_);
    for (auto& t : workers_) t.join();
  }

  int threads() const { return threads_; }

  int SetThreads(int n) {
    threads_ = std::max(1, std::min<int>(n, static_cast<int>(workers_.size()) + 1));
    return threads_;
  }

  // Runs task(0) here and offers task(1..parts-1) to workers 1..parts-1 (only those are woken).
  // A part is run by whoever claims it first: after its own part this thread runs every part
  // whose worker has not started yet, so a worker slow to wake (a sleeping vCPU can take
  // milliseconds) delays nothing; at worst the call runs serially here.
  void Run(int parts, const std::function<void(int)>& task) {
    // One call at a time (several JS threads may share the addon): they would share task_.
    std::lock_guard<std::mutex> run_lock(run_mu_);
    task_ = &task;
    pending_.store(parts - 1);
    for (int i = 1; i < parts; i++) claims_[i].store(false);
    const unsigned long generation = ++generation_;
    for (int i = 1; i < parts; i++) Signal(slots_[i], generation);
    in_task = true;
    task(0);
    for (int i = 1; i < parts; i++) {
      if (!claims_[i].exchange(true)) {
        task(i);
        pending_.fetch_sub(1);
      }
    }
    in_task = false;
    while (pending_.load() != 0) WP_PAUSE();
    task_ = nullptr;
  }

 private:
  // One per worker, on its own cache line: the ticket it waits for, and how to wake it.
  struct alignas(64) Slot {
    std::atomic<unsigned long> ticket{0};
    std::atomic<bool> sleeping{false};
    std::mutex mu;
    std::condition_variable cv;
  };

  // Seq-cst stores and loads on both sides: either the worker sees the new ticket before it
  // sleeps, or this sees it sleeping and wakes it.
  static void Signal(Slot& slot, unsigned long generation) {
    slot.ticket.store(generation);
    if (slot.sleeping.load()) {
      std::lock_guard<std::mutex> lock(slot.mu);
      slot.cv.notify_one();
    }
  }

  void Work(Slot& slot, int index) {
    unsigned long seen = 0;
    for (;;) {
      if (!SpinFor(slot, seen)) {
        std::unique_lock<std::mutex> lock(slot.mu);
        slot.sleeping.store(true);
        slot.cv.wait(lock, [&] { return slot.ticket.load() != seen; });
        slot.sleeping.store(false);
      }
      seen = slot.ticket.load();
      if (stop_.load()) return;
      // Claims are reset only while a call that includes this part is running, and task_ is
      // published before them: a claim won here is always for the current call.
      if (claims_[index].exchange(true)) continue;
      in_task = true;
      (*task_)(index);
      in_task = false;
      pending_.fetch_sub(1);
    }
  }

  // True when the worker's ticket changed within the spin time.
  static bool SpinFor(const Slot& slot, unsigned long seen) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; i++) {
      if (slot.ticket.load() != seen) return true;
      WP_PAUSE();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
    }
  }

  int threads_ = 1;
  int capacity_ = 1;
  std::unique_ptr<Slot[]> slots_;
  // Per part: taken (true) or still open to whichever thread gets there first. All true between
  // calls.
  std::unique_ptr<std::atomic<bool>[]> claims_;
  std::vector<std::thread> workers_;
  // Written before the tickets that publish it (their seq-cst store orders it).
  const std::function<void(int)>* task_ = nullptr;
  std::atomic<int> pending_{0};
  std::atomic<unsigned long> generation_{0};
  std::atomic<bool> stop_{false};
  std::mutex run_mu_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

int pool_threads() { return pool().threads(); }

int set_pool_threads(int n) { return pool().SetThreads(n); }

void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body) {
  if (grain == 0) grain = 1;
  const std::size_t chunks = n / grain;
  const int parts =
      in_task ? 1 : static_cast<int>(std::min<std::size_t>(pool().threads(), chunks));
  if (parts < 2) {
    if (n > 0) body(0, n);
    return;
  }
  // Equal ranges rounded to the grain (keeps SIMD loops aligned to whole vectors).
  const std::size_t per = (chunks + parts - 1) / parts * grain;
  pool().Run(parts, [&](int p) {
    const std::size_t lo = static_cast<std::size_t>(p) * per;
    const std::size_t hi = p == parts - 1 ? n : std::min(n, lo + per);
    if (lo < hi) body(lo, hi);
  });
}

}  // namespace wp
