#!/usr/bin/env bash
# Installs what `make demo`, `make test` and `make fuzz` need, from Debian packages, or says
# exactly what is missing. Idempotent: does nothing when everything is present.
set -euo pipefail

missing_pkgs=()
need_cmd() {  # command, Debian package
  command -v "$1" >/dev/null 2>&1 || missing_pkgs+=("$2")
}
need_cmd cmake cmake
need_cmd ninja ninja-build
need_cmd g++ g++
need_cmd python3 python3
need_cmd ip iproute2
# The Python module's venv (scripts/python-env.sh) needs the venv module.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing_pkgs+=(python3-venv)
if [ -z "${TCPXP_GTEST_SOURCE_DIR:-}" ] && [ ! -f /usr/include/gtest/gtest.h ]; then
  missing_pkgs+=(libgtest-dev libgmock-dev)
fi
# `make fuzz` (fuzz/README.md): clang and its libFuzzer runtime (libclang-rt-dev: the one of
# Debian's default clang, libclang-rt-14-dev on Debian 12).
need_cmd clang++ clang
if ! command -v clang++ >/dev/null 2>&1 ||
   [ ! -f "$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ]; then
  missing_pkgs+=(libclang-rt-dev)
fi

if [ ${#missing_pkgs[@]} -eq 0 ]; then
  exit 0
fi

echo "tcpx-p2p: missing build dependencies: ${missing_pkgs[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # apt's own output goes to a log, shown only when a step fails; each step says what it does
  # and how long it took.
  log="$(mktemp -t tcpxp-apt.XXXXXX.log)"
  apt_step() {  # description, command...
    local what="$1" start=$SECONDS
    shift
    echo "tcpx-p2p: $what ..."
    if ! "$@" >>"$log" 2>&1; then
      cat "$log" >&2
      echo "tcpx-p2p: $what failed after $((SECONDS - start)) s (apt's output above, also in $log)" >&2
      exit 1
    fi
    echo "tcpx-p2p: $what: done in $((SECONDS - start)) s"
  }
  export DEBIAN_FRONTEND=noninteractive
  apt_step "apt-get update (the package lists)" apt-get update
  apt_step "apt-get install ${missing_pkgs[*]} (Debian packages)" \
    apt-get install -y --no-install-recommends "${missing_pkgs[@]}"
  rm -f "$log"
else
  echo "tcpx-p2p: install them first, e.g.: sudo apt-get install ${missing_pkgs[*]}" >&2
  echo "  (or point TCPXP_GTEST_SOURCE_DIR at a GoogleTest source tree)" >&2
  exit 1
fi
