#!/usr/bin/env python3
"""`pip install .` end to end, offline: builds the wheel (pip wheel --no-deps --no-build-isolation,
with the scikit-build-core and nanobind of this Python), checks what it holds, installs it into a
fresh venv (--no-index) and runs what a user runs: `tcpx-p2p` found on PATH (--version, a host
memory demo), `import tcpx_p2p` and `from uccl import p2p` with their __version__.

Usage: wheel_test.py WORK_DIR   (ctest `packaging.wheel`: WORK_DIR is <build>/tests/packaging;
its wheel build folder is kept, so a second run is incremental)

Building the wheel compiles the engine again (about 3.5 min on 2 busy cores), so the test runs
only with TCPXP_TEST_WHEEL=1 and otherwise exits 77 (ctest's skip) saying so.
"""
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

SKIP = 77
ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 1200
RUN_TIMEOUT_S = 120


def expect(cond, what, detail=""):
    if not cond:
        sys.stderr.write(f"FAIL: {what}\n{detail}\n")
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def run(cmd, env=None, cwd=None, timeout=RUN_TIMEOUT_S):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def clean_env(venv):
    """The user's view: the venv's bin first on PATH, nothing of the build tree on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["UCCL_SOCKET_IFNAME"] = "lo"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if os.environ.get("TCPXP_TEST_WHEEL", "") in ("", "0"):
        print("SKIP: builds the wheel from scratch, compiling the engine again (about 3.5 min on "
              "2 cores); set TCPXP_TEST_WHEEL=1 to run it")
        return SKIP
    for module in ("scikit_build_core", "nanobind", "pip"):
        try:
            __import__(module)
        except ImportError:
            print(f"SKIP: {module} is not installed for {sys.executable} (the offline wheel build "
                  "uses this Python's; bash scripts/python-env.sh installs them)")
            return SKIP
    work = Path(sys.argv[1]).resolve()
    dist, venv = work / "dist", work / "venv"
    for stale in (dist, venv):
        shutil.rmtree(stale, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    version = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)[1]

    start = time.monotonic()
    rc, out, err = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--no-index", "--disable-pip-version-check", "-w", dist,
                        "--config-settings", f"build-dir={work / 'build-wheel'}", ROOT],
                       timeout=BUILD_TIMEOUT_S)
    wheels = sorted(dist.glob("tcpx_p2p-*.whl"))
    expect(rc == 0 and len(wheels) == 1,
           f"pip wheel builds one wheel offline ({time.monotonic() - start:.0f} s)",
           out[-4000:] + err[-4000:])

    with zipfile.ZipFile(wheels[0]) as whl:
        infos = {i.filename: i for i in whl.infolist()}
    names = set(infos)
    script = f"tcpx_p2p-{version}.data/scripts/tcpx-p2p"
    payload = {n for n in names if ".dist-info/" not in n}
    want = {"tcpx_p2p/__init__.py", "tcpx_p2p/_uccl_compat.py", "tcpx_p2p/_version.py",
            "tcpx_p2p_uccl_compat.pth", script}
    cores = {n for n in payload if re.fullmatch(r"tcpx_p2p/_core\..*\.so", n)}
    expect(want <= names and len(cores) == 1 and payload == want | cores,
           "the wheel holds the package, _core, _version.py, the .pth hook and the tcpx-p2p "
           "command, nothing else", "\n".join(sorted(names)))
    expect((infos[script].external_attr >> 16) & 0o111, "the command is executable in the wheel")

    rc, out, err = run([sys.executable, "-m", "venv", venv])
    expect(rc == 0, "python -m venv makes a fresh venv", out + err)
    start = time.monotonic()
    rc, out, err = run([venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--no-deps",
                        "--disable-pip-version-check", wheels[0]])
    expect(rc == 0, f"pip install of the wheel, offline ({time.monotonic() - start:.0f} s)",
           out + err)

    env = clean_env(venv)
    # By name, through PATH, from outside the repository: the command the user types.
    expect(shutil.which("tcpx-p2p", path=env["PATH"]) == str(venv / "bin" / "tcpx-p2p"),
           "tcpx-p2p is on PATH in the venv's bin/")
    rc, out, err = run(["tcpx-p2p", "--version"], env=env, cwd="/")
    expect(rc == 0 and out.startswith(f"tcpx-p2p {version} (commit "),
           f"the installed tcpx-p2p --version: {out.strip()}", out + err)
    rc, out, err = run(["tcpx-p2p", "demo", "--host", "--layers", "2", "--blocks", "8",
                        "--block-bytes", "4K", "--iters", "2", "--timeout", "30"], env=env, cwd="/")
    expect(rc == 0 and "verified OK" in out, "the installed tcpx-p2p demo --host verifies its bytes",
           out + err)
    rc, out, err = run(["python", "-c",
                        "import tcpx_p2p, uccl; from uccl import p2p; "
                        "print(tcpx_p2p.__file__, tcpx_p2p.__version__, p2p.__version__, "
                        "uccl.__version__, p2p.Endpoint is tcpx_p2p.Endpoint)"], env=env, cwd="/")
    fields = out.split()
    expect(rc == 0 and fields[0].startswith(str(venv)) and fields[1:] == [version] * 3 + ["True"],
           "the installed module: tcpx_p2p and uccl.p2p (the .pth hook) with __version__ "
           f"{version}", out + err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
