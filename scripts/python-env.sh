#!/usr/bin/env bash
# Creates or updates the Python virtual environment at .venv (repository root; TCPXP_VENV
# overrides) with what the Python module and its tests need (nanobind, scikit-build-core, pytest,
# numpy, from PyPI), then prints the venv's python path on stdout, for:
#   cmake -S . -B build -G Ninja -DPython_EXECUTABLE="$(bash scripts/python-env.sh)"
# Idempotent: a venv that already has everything is left alone (no network access).
# If the venv cannot be made or filled, it warns on stderr and still prints a python path (the
# venv's or python3's): the build then skips the module and ctest skips the Python tests.
# Messages go to stderr so that stdout is only the path.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TCPXP_VENV:-$root/.venv}"
py="$venv/bin/python"
pkgs=(nanobind scikit-build-core pytest numpy)

if [ ! -x "$py" ]; then
  echo "tcpx-p2p: creating the Python virtual environment $venv (python3 -m venv) ..." >&2
  start=$SECONDS
  if ! python3 -m venv "$venv" >&2; then
    echo "tcpx-p2p: 'python3 -m venv $venv' failed (Debian: apt-get install python3-venv);" \
         "the Python module will not be built" >&2
    command -v python3
    exit 0
  fi
  echo "tcpx-p2p: venv created in $((SECONDS - start)) s" >&2
fi
# Keep the venv out of `git status` without touching the repository's .gitignore (Python 3.13's
# venv writes the same file).
[ -f "$venv/.gitignore" ] || echo '*' >"$venv/.gitignore"

if ! "$py" -c 'import nanobind, scikit_build_core, pytest, numpy' >/dev/null 2>&1; then
  echo "tcpx-p2p: installing ${pkgs[*]} from PyPI into $venv (pip) ..." >&2
  start=$SECONDS
  if "$py" -m pip install -q --disable-pip-version-check "${pkgs[@]}" >&2; then
    echo "tcpx-p2p: installed in $((SECONDS - start)) s: $("$py" -c '
import importlib.metadata as m, sys
print(", ".join(n + " " + m.version(n) for n in sys.argv[1:]))' "${pkgs[@]}" 2>/dev/null)" >&2
  else
    echo "tcpx-p2p: could not install ${pkgs[*]} into $venv after $((SECONDS - start)) s;" \
         "the Python module or its tests will be skipped" >&2
  fi
fi
echo "$py"
