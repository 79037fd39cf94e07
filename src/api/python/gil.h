// Python's GIL around blocking engine calls, and interpreter exit (see module.cc's header).
// GilRelease releases the GIL for a call into the engine; SignalWatch is the engine's
// `interrupted` callback that checks for Ctrl-C. onPythonExit is registered with atexit.
#pragma once

#include <nanobind/nanobind.h>

#include "engine/endpoint.h"

namespace tcpxp::python {

namespace nb = nanobind;

// The atexit hook: from now on only the calling (exiting) thread may take the GIL again.
void onPythonExit();

// Called without the GIL, before taking it back. After atexit, only the exiting thread may take
// the GIL again; any other (a daemon thread) sleeps until the process ends.
void parkIfExiting();

// nb::gil_scoped_release that parks instead of re-acquiring the GIL during interpreter exit.
class GilRelease {
 public:
  GilRelease();
  ~GilRelease();
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

// Watches for Python signals while a blocking engine call runs without the GIL. The engine
// calls the callback on the blocked (calling) thread every few milliseconds.
class SignalWatch {
 public:
  engine::Interrupted callback();
  // GIL held. Raises the exception a signal handler set (e.g. KeyboardInterrupt).
  void rethrow() const {
    if (raised_) throw nb::python_error();
  }

 private:
  bool raised_ = false;
};

}  // namespace tcpxp::python
