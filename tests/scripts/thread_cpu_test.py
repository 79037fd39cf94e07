"""scripts/thread_cpu.py (pytest): a busy child's thread is found and its cores counted, the
command's output and exit status come through, bad invocations exit 2, and the per-role summary
sums numbered threads.

usage: python3 thread_cpu_test.py [PYTEST ARGS]   exit 77 (ctest's skip) without pytest
"""
import os
import subprocess
import sys

try:
    import pytest
except ImportError:  # ctest runs this file with its Python: no pytest there is a skip, not a failure
    print(f"SKIP: pytest is not installed for {sys.executable}")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "scripts", "thread_cpu.py")
sys.path.insert(0, os.path.dirname(TOOL))
import thread_cpu  # noqa: E402


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=60)


def test_a_busy_child_is_counted_with_its_output_and_status():
    # The child spins for 2 s (past delay + window), prints, and exits 3. Its process name is
    # the interpreter's (python3...), matched by prefix.
    name = os.path.basename(sys.executable)[:15]
    busy = ("import time,sys\nt=time.time()\nwhile time.time()-t<2.0: pass\n"
            "print('child done')\nsys.exit(3)")
    r = run("--names", name, "--delay", "0.3", "--window", "1.0", "--", sys.executable, "-c", busy)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "child done" in r.stdout
    assert "cpu: machine busy" in r.stdout
    cores = [float(line.split()[5]) for line in r.stdout.splitlines()
             if line.startswith("cpu: pid ")]
    # The busy thread shows (0.3 cores at least, on a machine shared with other tests).
    assert cores and max(cores) >= 0.3, r.stdout


@pytest.mark.parametrize("args", [[], ["--window", "0", "--", "true"], ["--delay", "-1", "--", "true"]])
def test_bad_invocations_exit_2(args):
    r = run(*args)
    assert r.returncode == 2
    assert "thread_cpu.py" in r.stderr


def test_a_command_that_cannot_start_exits_2():
    r = run("--", "/nonexistent/command")
    assert r.returncode == 2
    assert "cannot run" in r.stderr


def test_numbered_threads_are_one_role():
    before = {("7", "1"): ("tcpxp-send-0", 0, 0), ("7", "2"): ("tcpxp-send-1", 10, 0),
              ("7", "3"): ("tcpxp-driver", 0, 0)}
    after = {("7", "1"): ("tcpxp-send-0", 50, 50), ("7", "2"): ("tcpxp-send-1", 60, 0),
             ("7", "3"): ("tcpxp-driver", 100, 0), ("7", "4"): ("late", 500, 0)}
    lines = thread_cpu.summarize(before, after, seconds=1.0, hz=100)
    assert len(lines) == 2  # the thread born inside the window is not counted
    assert "tcpxp-send" in lines[0] and "x2" in lines[0] and "1.50 cores" in lines[0]
    assert "tcpxp-driver" in lines[1] and "1.00 cores" in lines[1]


if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-rs", "-p", "no:cacheprovider", __file__] + sys.argv[1:]))
