#include "api/python/gil.h"

#include <atomic>
#include <chrono>
#include <thread>

namespace tcpxp::python {
namespace {

// Set by the atexit hook (module init), in the thread that runs Python's finalization.
// Release-store of g_exiting after g_exit_thread pairs with the acquire-load in parkIfExiting().
std::atomic<bool> g_exiting{false};
std::atomic<std::thread::id> g_exit_thread{};
std::atomic<int> g_released{0};  // GilRelease scopes open now

}  // namespace

void onPythonExit() {
  g_exit_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
  g_exiting.store(true, std::memory_order_release);
  // Threads inside a call will park holding their Endpoint: not a reference-counting bug.
  if (g_released.load() > 0) nb::set_leak_warnings(false);
}

void parkIfExiting() {
  if (!g_exiting.load(std::memory_order_acquire)) return;
  if (std::this_thread::get_id() == g_exit_thread.load(std::memory_order_relaxed)) return;
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

GilRelease::GilRelease() : state_(PyEval_SaveThread()) { ++g_released; }

GilRelease::~GilRelease() {
  parkIfExiting();
  --g_released;
  PyEval_RestoreThread(state_);
}

engine::Interrupted SignalWatch::callback() {
  return [this] {
    parkIfExiting();
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      raised_ = true;  // the exception stays set in this thread's state until rethrow()
      return true;
    }
    return false;
  };
}

}  // namespace tcpxp::python
