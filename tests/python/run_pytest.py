"""ctest entry point for the Python tests: runs pytest on this folder, or exits 77 (ctest's skip,
SKIP_RETURN_CODE) saying why when pytest or the compiled module tcpx_p2p._core is missing.

ctest sets PYTHONPATH=<build>/python:<repo>/python and UCCL_SOCKET_IFNAME=lo (tests/CMakeLists.txt).
Extra arguments go to pytest, e.g. `-k metadata`."""

import os
import sys

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    try:
        import pytest
    except ImportError:
        print(f"SKIP: pytest is not installed for {sys.executable} (bash scripts/python-env.sh, then "
              "configure with -DPython_EXECUTABLE=$PWD/.venv/bin/python)")
        return SKIP
    sys.path.insert(0, HERE)
    import p2p_harness

    err = p2p_harness.core_import_error()
    if err is not None:
        print(f"SKIP: the Python module tcpx_p2p._core was not built or does not import ({err}); "
              "it is built when nanobind is importable by -DPython_EXECUTABLE")
        return SKIP
    return pytest.main(["-q", "-rs", "-p", "no:cacheprovider", HERE] + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
