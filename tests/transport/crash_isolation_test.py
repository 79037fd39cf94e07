#!/usr/bin/env python3
"""A plugin that crashes in one conformance test never hides the results of the others.

Runs conformance_tests directly (its runner forks one process per test) with
TCPXP_CONFORMANCE_PLUGIN pointing at fake plugins that wrap the built-in transport but abort,
raise SIGSEGV or exit(1) in irecv(n != 1), which only
TcpxRules.IrecvAndIrecvConsumedTakeExactlyOneBuffer calls. That test must be reported failed with
its signal or exit code, and the tests before and after it must still report their results.
Then the UNPACK tests that need regMr(NCCL_PTR_CUDA) must skip against a foreign plugin whose
device has no pciPath (it would crash TCPX), saying why.

usage: crash_isolation_test.py CONFORMANCE_TESTS FAKE_PLUGIN_DIR
"""
import os
import re
import subprocess
import sys

CRASHER = "TcpxRules.IrecvAndIrecvConsumedTakeExactlyOneBuffer"
OTHERS = [
    "Conformance.ListenConnectAcceptNonBlocking",
    "TcpxRules.TestAfterDoneReportsNotDone",
    "Conformance.TestNeverWritesSizes",
]
# The crasher in the middle: tests after it must run too.
FILTER = ":".join([OTHERS[0], OTHERS[1], CRASHER, OTHERS[2]])
KINDS = {
    "abort": r"killed by signal 6 \(SIGABRT",
    "segv": r"killed by signal 11 \(SIGSEGV",
    "exit": r"exited with code 1 before the test finished",
}


def run(binary, plugin, args, extra_env=None):
    env = dict(os.environ)
    env["TCPXP_CONFORMANCE_PLUGIN"] = plugin
    env.setdefault("UCCL_SOCKET_IFNAME", "lo")
    # Sanitizer builds: let the raw signal through (ASan turns SIGSEGV into exit code 1).
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":handle_segv=0:handle_abort=0").lstrip(":")
    env.update(extra_env or {})
    p = subprocess.run([binary] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600, check=False)
    return p.returncode, p.stdout.decode(errors="replace")


def check(cond, what, output):
    if not cond:
        print(output)
        print("FAIL: " + what)
        sys.exit(1)


def main():
    binary, fake_dir = sys.argv[1], sys.argv[2]
    for kind, crash_text in KINDS.items():
        plugin = os.path.join(fake_dir, "libfake_crash_%s.so" % kind)
        rc, output = run(binary, plugin, ["--gtest_filter=" + FILTER])
        check(rc == 1, "%s: the run must fail (exit 1), got %d" % (kind, rc), output)
        check(re.search(r"\[ CRASHED  \] %s: crashed: %s" % (re.escape(CRASHER), crash_text),
                        output),
              "%s: the crash of %s is reported with its cause" % (kind, CRASHER), output)
        check(re.search(r"\[  FAILED  \] %s: crashed: %s" % (re.escape(CRASHER), crash_text),
                        output),
              "%s: the summary lists %s as failed" % (kind, CRASHER), output)
        for name in OTHERS:
            check(re.search(r"\[       OK \] %s \(" % re.escape(name), output),
                  "%s: %s still reports its result" % (kind, name), output)
        check("4 tests ran, each in its own process: 3 passed, 0 skipped, 1 failed" in output,
              "%s: the summary counts every test" % kind, output)
        print("ok: %s in %s reported, the other %d tests passed" % (kind, CRASHER, len(OTHERS)))

    # UNPACK tests that need CUDA registrations skip against a foreign plugin without a pciPath.
    plugin = os.path.join(fake_dir, "libfake_crash_abort.so")
    rc, output = run(binary, plugin, ["--gtest_filter=Unpack.*"], {"UCCL_SOCKET_UNPACK": "1"})
    check(rc == 0, "Unpack.* against a foreign plugin on lo: exit 0, got %d" % rc, output)
    for name in ["ScatterListsGatherToTheSentBytes",
                 "HostRegisteredReceivesLandDirectlyWithNoFragments",
                 "PagesAreRecycledByIrecvConsumed"]:
        check(re.search(r"\[  SKIPPED \] Unpack\.%s" % name, output),
              "Unpack.%s skips" % name, output)
    check("has no pciPath" in output, "the skip says why (no pciPath)", output)
    check(re.search(r"\[       OK \] Unpack\.AcceptFillsTheDeviceHandle", output),
          "Unpack.AcceptFillsTheDeviceHandle still runs", output)
    print("ok: the CUDA-registration tests skip against a foreign plugin without a pciPath")


if __name__ == "__main__":
    main()
