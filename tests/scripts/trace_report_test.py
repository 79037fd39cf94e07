"""scripts/trace_report.py (pytest): the window occupancy of each channel from a sender's and a
receiver's UCCL_TCPX_TRACE files, and the per-transfer table, on traces with known answers.

usage: python3 trace_report_test.py [PYTEST ARGS]   exit 77 (ctest's skip) without pytest
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
TOOL = os.path.join(HERE, "..", "..", "scripts", "trace_report.py")
sys.path.insert(0, os.path.dirname(TOOL))
import trace_report  # noqa: E402


def test_occupancy_is_time_weighted_and_counts_full_windows():
    # 16 requests open over [0, 100) and one more over [50, 150): mean (16 * 100 + 100) / 150,
    # the window (16) is full for 100 of 150.
    mean, full = trace_report.occupancy([(0, 100)] * 16 + [(50, 150)])
    assert mean == pytest.approx(1700 / 150)
    assert full == pytest.approx(100 / 150)
    assert trace_report.occupancy([]) == (0.0, 0.0)
    assert trace_report.occupancy([(5, 5)]) == (0.0, 0.0)


def write_trace(tmp_path):
    # Channel 0: two 1 MiB pieces of transfer 7, one after the other. Sender: queued, staging
    # copy (0: direct), isend posted, done. Receiver: queued, irecv posted, received, consumed.
    snd = tmp_path / "s.csv"
    rcv = tmp_path / "r.csv"
    mib = 1 << 20
    snd.write_text(f"0,s,7,{mib},0,0,1000,3000\n0,s,7,{mib},0,0,3000,5000\n")
    rcv.write_text(f"0,r,6,{mib},0,500,2500,3000\n0,r,6,{mib},0,2500,4500,5000\n")
    return str(snd), str(rcv)


def test_the_report_shows_transfers_and_windows(tmp_path):
    snd, rcv = write_trace(tmp_path)
    out = subprocess.run([sys.executable, TOOL, snd, rcv], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "1 transfers, 2 pieces" in out.stdout
    lines = out.stdout.splitlines()
    row = lines[lines.index(next(l for l in lines if l.startswith("channel | send mean"))) + 1]
    # Sends open [1000, 3000) and [3000, 5000): one at a time over the whole span. Receives
    # open [500, 3000) and [2500, 5000): mean (2500 + 2500) / 4500, never full; waiting for
    # bytes [500, 2500) and [2500, 4500): one at a time over 4000 of 4000.
    assert row == "0 | 1.0 | 0% | 1.1 | 0% | 1.0"


def test_a_trace_without_sends_is_refused(tmp_path):
    snd, rcv = write_trace(tmp_path)
    out = subprocess.run([sys.executable, TOOL, rcv, rcv], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "no send records" in out.stderr


if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-rs", "-p", "no:cacheprovider", __file__] + sys.argv[1:]))
