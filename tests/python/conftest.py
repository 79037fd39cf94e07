"""pytest set-up for the tcpx_p2p Python tests.

Run from a build: PYTHONPATH=<build>/python:<repo>/python python -m pytest tests/python
(ctest does this: `ctest -R python`). Tests that need the compiled module skip, with the import
error as the reason, when it was not built.
"""

import pytest

import p2p_harness


def pytest_report_header(config):
    err = p2p_harness.core_import_error()
    return "tcpx_p2p._core: " + ("importable" if err is None else f"NOT importable ({err})")


@pytest.fixture(scope="session")
def core():
    """The tcpx_p2p package, with its compiled module loaded; skips when it is not built."""
    err = p2p_harness.core_import_error()
    if err is not None:
        pytest.skip(f"tcpx_p2p._core is not built or not importable: {err}")
    return p2p_harness.p2p()
