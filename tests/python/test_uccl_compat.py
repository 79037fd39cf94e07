"""`from uccl import p2p` through the compatibility hook (python/tcpx_p2p/_uccl_compat.py).

Each case runs in a fresh interpreter (the hook changes sys.meta_path for good) started with -S:
no site-packages, so neither an installed tcpx-p2p (whose .pth would install the hook at start-up)
nor a real UCCL gets in the way; tcpx_p2p comes from PYTHONPATH (the build's python/ folder, then
the repository's)."""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import p2p_harness

REPO = pathlib.Path(__file__).resolve().parents[2]
PTH = REPO / "python" / "tcpx_p2p_uccl_compat.pth"


def run_python(code, extra_path=(), env=None, timeout=p2p_harness.DEADLINE_S):
    """Runs code in a fresh interpreter; returns stdout; fails with its stderr."""
    full_env = dict(os.environ)
    full_env.pop("TCPX_P2P_NO_UCCL_COMPAT", None)
    full_env.update(env or {})
    paths = [str(p) for p in extra_path] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(REPO / "python") not in paths:
        paths.append(str(REPO / "python"))
    full_env["PYTHONPATH"] = os.pathsep.join(paths)
    proc = subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(code)], env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout.strip()


def test_uccl_p2p_aliases_tcpx_p2p(core):
    out = run_python("""
        import sys
        import tcpx_p2p._uccl_compat as compat
        assert "uccl" not in sys.modules
        finder = compat.install()
        assert compat.install() is finder and sys.meta_path[-1] is finder  # once, last
        from uccl import p2p
        import uccl, uccl.p2p, tcpx_p2p
        assert uccl.p2p is p2p and sys.modules["uccl.p2p"] is p2p
        assert p2p.Endpoint is tcpx_p2p.Endpoint
        assert p2p.XferDesc is tcpx_p2p.XferDesc and p2p.XferHandle is tcpx_p2p.XferHandle
        assert callable(p2p.Endpoint.register_memory) and callable(p2p.Endpoint.connect_local)
        assert p2p.FloatType is tcpx_p2p.FloatType and p2p.kFloat16 == p2p.FloatType.kFloat16
        assert p2p.get_oob_ip() == tcpx_p2p.get_oob_ip()
        assert p2p.Endpoint.parse_metadata(p2p.Endpoint().get_metadata())[1] > 0
        from uccl.p2p import Endpoint
        assert Endpoint is tcpx_p2p.Endpoint
        try:
            import uccl.collective
        except ImportError:
            pass
        else:
            raise AssertionError("uccl.collective should not exist")
        print(p2p.__name__, uccl.__tcpx_p2p_shim__)
    """)
    assert out == "uccl.p2p True"


def test_version_is_the_projects(core):
    # One version: pyproject.toml's, which CMake reads and writes into tcpx_p2p/_version.py.
    want = re.search(r'^version = "([^"]+)"$', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    out = run_python("""
        import tcpx_p2p._uccl_compat as compat
        compat.install()
        import tcpx_p2p, uccl
        from uccl import p2p
        print(tcpx_p2p.__version__, p2p.__version__, uccl.__version__)
    """)
    assert out == f"{want} {want} {want}"


def test_uccl_shim_without_the_compiled_module():
    # The finder itself needs no build: point it at a module that does not exist.
    out = run_python("""
        import tcpx_p2p._uccl_compat as compat
        compat.install(target="tcpx_p2p_not_there")
        import uccl
        try:
            from uccl import p2p
        except ImportError as e:
            print("ImportError", e.name)
    """)
    assert out == "ImportError tcpx_p2p_not_there"


def _fake_uccl(root):
    pkg = root / "uccl"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("REAL = True\n")
    (pkg / "p2p.py").write_text("Endpoint = 'the real one'\n")
    return root


def test_a_real_uccl_on_sys_path_wins(tmp_path):
    out = run_python("""
        import tcpx_p2p._uccl_compat as compat
        compat.install()
        from uccl import p2p
        import uccl
        print(uccl.REAL, p2p.Endpoint, hasattr(uccl, "__tcpx_p2p_shim__"))
    """, extra_path=[_fake_uccl(tmp_path)])
    assert out == "True the real one False"


def test_a_real_uccl_from_a_later_finder_wins(tmp_path):
    # A finder appended after ours (as editable installs do) still takes precedence.
    root = _fake_uccl(tmp_path)
    out = run_python(f"""
        import importlib.machinery, sys
        import tcpx_p2p._uccl_compat as compat
        compat.install()
        class Later:
            def find_spec(self, name, path=None, target=None):
                if name == "uccl":
                    return importlib.machinery.PathFinder.find_spec(name, [{str(root)!r}])
                return None
        sys.meta_path.append(Later())
        import uccl
        print(uccl.REAL)
    """)
    assert out == "True"


def test_disabled_by_environment():
    out = run_python("""
        import tcpx_p2p._uccl_compat as compat
        assert compat.install() is None
        try:
            import uccl
        except ImportError:
            print("no uccl")
    """, env={"TCPX_P2P_NO_UCCL_COMPAT": "1"})
    assert out == "no uccl"


def test_pth_file_installs_the_hook(tmp_path):
    assert PTH.read_text().startswith("import ")
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / PTH.name).write_text(PTH.read_text())
    out = run_python(f"""
        import site, sys
        assert "tcpx_p2p" not in sys.modules
        site.addsitedir({str(site_dir)!r})  # processes the .pth as at start-up
        import tcpx_p2p._uccl_compat as compat
        assert any(isinstance(f, compat.UcclCompatFinder) for f in sys.meta_path)
        assert "tcpx_p2p._core" not in sys.modules  # the hook must stay cheap
        import uccl
        print(uccl.__tcpx_p2p_shim__)
    """)
    assert out == "True"


def test_nothing_named_uccl_is_shipped():
    assert sorted(p.name for p in (REPO / "python").iterdir() if not p.name.startswith(".")) == [
        "tcpx_p2p", PTH.name]
