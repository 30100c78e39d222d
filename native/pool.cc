#include "pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

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

class Pool {
 public:
  Pool() {
    threads_ = configured_threads();
    // Workers for every core (they sleep when unused), so set_threads can raise the count later.
    const int capacity = std::max<int>(threads_, std::thread::hardware_concurrency());
    for (int i = 1; i < capacity; i++) workers_.emplace_back([this, i] { Work(i); });
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_++;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const { return threads_; }

  int SetThreads(int n) {
    threads_ = std::max(1, std::min<int>(n, static_cast<int>(workers_.size()) + 1));
    return threads_;
  }

  void Run(int parts, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> lock(mu_);
    task_ = &task;
    parts_ = parts;
    pending_ = parts - 1;
    generation_++;
    lock.unlock();
    wake_.notify_all();
    task(0);
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void Work(int index) {
    unsigned long seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      if (index >= parts_) continue;
      const std::function<void(int)>* task = task_;
      lock.unlock();
      (*task)(index);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0;
  int pending_ = 0;
  unsigned long generation_ = 0;
  bool stop_ = false;
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
  const int parts = static_cast<int>(std::min<std::size_t>(pool().threads(), chunks));
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
