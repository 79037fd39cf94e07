"""The options of scripts/bench_vs_peers.py: each a flag and an environment variable (the flag
wins; an unset or empty variable means the default, except where an empty value is meaningful).
The variables are those of the former bench_vs_peers.sh, so its command lines still work."""

import argparse
import json
import os
import re

DESCRIPTION = """\
The issue-4 benchmark: builds the project, then measures in one run, on this machine, over
loopback: raw TCP (tcp_bw), NCCL over sockets (best of a sweep), and the engine
(tcpx-p2p bench --local: send/recv, write, read, 8-byte write latency; GPU memory on both sides
when a GPU is present, host memory otherwise), plus a channels x sockets sweep of the engine with
its CPU cost. Prints one markdown table, the latency, issue 4's goals (PASS/FAIL, reporting
only) and the sweep table. Writes OUT/bench_vs_peers.md and OUT/bench_vs_peers.json. Every
engine number is read from the JSON file that tcpx-p2p bench --json writes.
Expected time on the 2 x H200 machine: about 7-8 minutes including the build (--deadline caps it).

The engine runs its size sweep in two loops, each reported and judged on its own:
  serialized  UCCL's benchmark loop: tcpx-p2p bench --inflight 1, every transfer is waited for
              before the next starts (rows "engine write", ...; JSON "engine")
  pipelined   NCCL's loop: nccl_sendrecv.py calls dist.send/recv without waiting, the sends queue
              on the CUDA stream and NCCL keeps several in flight; here tcpx-p2p bench
              --inflight PIPE_INFLIGHT (rows "engine write, 8 in flight", ...; JSON
              "engine_pipelined").
A run cut by --deadline or its timeout, or one that failed, writes no bench JSON: its numbers
are absent and the report says which are missing and why.
Raw TCP twice: tcp_bw resends one TCP_MSG buffer per stream, so with 512 KiB messages the whole
working set (16 streams x 512 KiB) stays in the CPU's last-level cache, while the engine moves
256 MiB buffers; the TCP_COLD_MSG row (16 MiB per stream, at the engine's stream count and 16)
is the raw TCP rate with a working set beyond the caches (on the GPU machine 16 streams gave
69.6 GB/s with 512 KiB messages, 50.4 GB/s with 16 MiB).
Sizes are K/M/G binary (also KiB/MiB/GiB; a plain number is bytes). Relative paths are taken
from the repository root, where the benchmark runs. Each option's environment variable and
default are in brackets."""

EPILOG = """\
CPU cost (sweep table): whole-machine busy time from /proc/stat (user+nice+system+irq+softirq,
so the kernel's loopback TCP work counts too) over the bench client's table (from the header to
the last result row; bench --json's "table_window"), minus an idle baseline (2 s before and 2 s
after the sweep), divided by the window's wall time = cores busy; divided by (GB/s moved in that
window / 10) = cores per 10 GB/s. Bytes moved include the warm-up transfer of each size. The same
figure from the bench processes' own utime+stime (/proc/PID/stat of both sides) is given beside
it. /proc counts in clock ticks (10 ms), so short windows are coarse: the window's length is in
the JSON.

Goals of issue 4 (reporting only; modes sendrecv, write and read each; G1-G5 evaluated for the
serialized and for the pipelined loop separately, G6 once):
  G1  every size >= 64 MiB: >= 45 GB/s
  G2  every size >= 64 MiB: >= 1.2 x best NCCL
  G3  256 KiB, 1 MiB, 4 MiB, 16 MiB: >= 1.5 x best NCCL
  G4  read >= 0.9 x write at every size
  G5  send/recv >= 0.9 x write at every size
  G6  latency: median 8-byte write round trip <= 25 us

Exit status: 0 when every step ran (whatever the goals say), 1 when the build failed or no report
could be written, 2 for a bad option.

--one-gpu (first or anywhere): issue 23's run on ONE GPU instead, the engine GPU0 -> GPU0 beside
NIXL (UCX over TCP) and Mooncake TE (TCP); its own options: bench_vs_peers.py --one-gpu --help.

on the GPU machine (the device tool: carry .deps/shared, a copy of ../shared):
  python3 scripts/bench_vs_peers.py --out $OUT        (or: OUT=$OUT python3 scripts/bench_vs_peers.py)
quick test without GPU or torch:
  python3 scripts/bench_vs_peers.py --skip-nccl --sizes 256K,4M --iters 5 --iters-large 3 \\
    --sweep-channels "1 2" --sweep-socks "1 2" --sweep-sizes 4M --build-dir build-peers"""

NCCL_DEFAULT = ("8x4/64M/4M 8x4/32M/2M 8x8/64M/4M 8x8/32M/2M 4x4/64M/4M 4x4/32M/2M "
                "8x4/16M/1M 8x8/16M/1M 4x4/16M/1M")

# (flag, environment variable, default, kind, help). Kinds: str, int, float, size, sizes
# (comma-separated), ints (space- or comma-separated), on (a switch, variable "1" sets it), off
# (a switch that turns off what the variable's "1" keeps on), keep (str; an empty variable is a
# value, not the default).
OPTIONS = [
    ("--out", "OUT", "out", "str", "where the results go"),
    ("--build-dir", "BUILD_DIR", "build", "str", "build directory, Release, Ninja"),
    ("--skip-build", "SKIP_BUILD", "0", "on",
     "use the existing BUILD_DIR/tcpx-p2p (tcp_bw is still compiled)"),
    ("--cmake-args", "TCPXP_CMAKE_ARGS", "-DTCPXP_BUILD_TESTS=OFF", "keep",
     "cmake arguments, split on spaces (GoogleTest is not needed here; empty: none)"),
    ("--build-target", "BUILD_TARGET", "tcpx_p2p_cli", "str",
     "what to build (the tcpx-p2p tool); \"all\" builds everything, as does an unknown target"),
    ("--shared", "TCPXP_SHARED", None, "str",
     "the shared/ folder holding bench/tcp_bw.cc and bench/nccl_sendrecv.py; searched: DIR/bench, "
     "DIR, ../shared/bench, ./.deps/shared/bench, ./shared/bench (the first found)"),
    ("--sizes", "SIZES", "256K,1M,4M,16M,64M,256M", "sizes", "engine message sizes"),
    ("--iters", "ITERS", "50", "int", "timed engine transfers per size below 64 MiB (as many as "
     "nccl_sendrecv.py times there, so both sides average over as many)"),
    ("--iters-large", "ITERS_LARGE", "16", "int", "timed engine transfers per size from 64 MiB up "
     "(nccl_sendrecv.py's count at 64 MiB; it times 5 at 256 MiB)"),
    ("--engine-repeats", "ENGINE_REPEATS", "3", "int",
     "runs of the engine's size sweep per loop; the table shows the best per size, the JSON every run"),
    ("--engine-memory", "ENGINE_MEMORY", "auto", "str",
     "auto (GPU when nvidia-smi lists one, else --host) | gpu | host"),
    ("--engine-args", "ENGINE_ARGS", "", "str", "extra flags for every tcpx-p2p bench run, split on "
     "spaces, e.g. \"--warmup 2\"; an --inflight in it is overridden by each loop's own"),
    ("--pipe-inflight", "PIPE_INFLIGHT", "8", "int",
     "transfers in flight in the pipelined engine pass (2..64); 0 or 1 skips that pass"),
    ("--lat-iters", "LAT_ITERS", "2000", "int", "round trips of the latency mode"),
    ("--engine-timeout", "ENGINE_TIMEOUT", "150", "int", "seconds per tcpx-p2p bench run"),
    ("--tcp-streams", "TCP_STREAMS", "8 16 32", "ints",
     "raw TCP stream counts, besides the engine's and the sweep's"),
    ("--tcp-seconds", "TCP_SECONDS", "3", "float", "seconds per tcp_bw run"),
    ("--tcp-msg", "TCP_MSG", "524288", "size", "tcp_bw message bytes"),
    ("--tcp-cold-msg", "TCP_COLD_MSG", "16777216", "keep", "tcp_bw message bytes of the run beyond "
     "the CPU caches, at the engine's stream count and 16; empty skips it"),
    ("--skip-nccl", "SKIP_NCCL", "0", "on",
     "no NCCL runs (also skipped without torch or with fewer than 2 GPUs)"),
    ("--nccl-configs", "NCCL_CONFIGS", NCCL_DEFAULT, "str",
     "NCCL configurations, THREADSxSOCKETS/BUFFSIZE/CHUNKSIZE, separated by spaces or commas, "
     "best-known first so that a cut budget keeps them (default: all 9 of {4x4,8x4,8x8} x "
     "{16M/1M,32M/2M,64M/4M}); threads x sockets must stay <= 64 (NCCL's limit)"),
    ("--nccl-timeout", "NCCL_TIMEOUT", "90", "int",
     "seconds per NCCL configuration; a failure or timeout drops that configuration"),
    ("--nccl-budget", "NCCL_BUDGET", "240", "int",
     "seconds for the whole NCCL sweep: no configuration starts after it"),
    ("--no-sweep", "SWEEP", "1", "off", "skip the channels x sockets sweep (SWEEP=0)"),
    ("--sweep-channels", "SWEEP_CHANNELS", "1 2 4 8", "ints", "UCCL_TCPX_NUM_CHANNELS values"),
    ("--sweep-socks", "SWEEP_SOCKS", "1 2 4", "ints", "UCCL_SOCKET_NSOCKS values"),
    ("--sweep-max-streams", "SWEEP_MAX_STREAMS", "32", "int",
     "combinations with more channels x sockets are skipped"),
    ("--sweep-sizes", "SWEEP_SIZES", "4M,64M,256M", "sizes", "write sizes of the sweep"),
    ("--sweep-iters", "SWEEP_ITERS", "20", "int", "timed transfers per size in the sweep"),
    ("--sweep-budget", "SWEEP_BUDGET", "150", "int",
     "seconds for the whole sweep: no combination starts after it"),
    ("--deadline", "DEADLINE", "540", "int", "seconds after the start by which every run has ended: "
     "each run's timeout is cut to fit, and NCCL configurations (keeping 100 s for the sweep) and "
     "sweep combinations that no longer fit are skipped"),
    ("--keep-work", "KEEP_WORK", "0", "on", "keep the work folder with every log (its path is printed)"),
]


def to_bytes(text):
    """'256K' -> 262144 (K/M/G binary, also KiB/MiB/GiB, KB; a plain number is bytes)."""
    m = re.fullmatch(r"(\d+)([KMG]?)(I?B)?", text.strip().upper())
    if not m:
        raise ValueError(f"'{text}' is not a size")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def env_default(env, default, kind, environ):
    value = environ.get(env)
    if kind == "keep":
        return default if value is None else value
    if kind == "on":
        return value == "1"
    if kind == "off":
        return (value or default) == "1"
    return value or default


def parser(environ=None):
    environ = os.environ if environ is None else environ
    p = argparse.ArgumentParser(prog="bench_vs_peers.py", usage="%(prog)s [--report WORK_DIR] [OPTION ...]",
                                description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--report", metavar="WORK_DIR",
                   help="only rebuild the table and JSON from the work folder of an earlier run kept "
                        "with --keep-work (also how the report is tested with fake work folders)")
    for flag, env, default, kind, text in OPTIONS:
        shown = "unset" if default is None else (f'"{default}"' if " " in default or not default else default)
        if kind in ("on", "off"):
            p.add_argument(flag, action="store_const", const=(kind == "on"), dest=env.lower(),
                           default=env_default(env, default, kind, environ),
                           help=f"{text} [{env}={'1' if kind == 'on' else '0'}]")
        else:
            p.add_argument(flag, metavar=env, dest=env.lower(), default=env_default(env, default, kind, environ),
                           help=f"{text} [{env}, {shown}]")
    return p


class Options:
    """The options, converted and checked (attributes named after the flags)."""

    def write_params(self, path):
        """The run's settings, for the report and the JSON."""
        params = {
            "sizes": self.sizes, "iters": self.iters, "iters_large": self.iters_large,
            "large_from": 64 << 20, "engine_repeats": self.engine_repeats,
            "engine_memory": self.engine_memory, "engine_args": self.engine_args,
            "latency_iters": self.lat_iters, "tcp_streams_table": self.tcp_streams,
            "tcp_seconds": self.tcp_seconds, "tcp_msg": self.tcp_msg,
            # beyond the CPU caches: at the engine's stream count and these; null = not run
            "tcp_cold_msg": self.tcp_cold_msg, "tcp_cold_streams": [16],
            "pipe_inflight": self.pipe_inflight,  # the pipelined engine pass; 0 or 1: not run
            "nccl_configs": self.nccl_configs, "nccl_timeout_s": self.nccl_timeout,
            "sweep": self.sweep, "sweep_channels": self.sweep_channels, "sweep_sockets": self.sweep_socks,
            "sweep_sizes": self.sweep_sizes, "sweep_iters": self.sweep_iters,
            "sweep_max_streams": self.sweep_max_streams, "build_dir": self.build_dir,
            "env": {k: os.environ.get(k) for k in ("UCCL_SOCKET_IFNAME", "NCCL_NVLS_ENABLE",
                                                   "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS")},
        }
        with open(path, "w") as f:
            json.dump(params, f, indent=1)


def parse_options(argv=None, root=".", environ=None):
    """The checked options; a bad one exits 2 naming its flag and variable."""
    p = parser(environ)
    a = p.parse_args(argv)
    o = Options()
    for flag, env, default, kind, _ in OPTIONS:
        name, raw = flag[2:].replace("-", "_"), getattr(a, env.lower())
        if kind == "off":
            name = name[len("no_"):]
        try:
            if kind == "int":
                value = int(raw)
            elif kind == "float":
                value = float(raw)
            elif kind == "size":
                value = to_bytes(raw)
            elif kind == "sizes":
                value = [to_bytes(x) for x in raw.split(",")]
                setattr(o, name + "_text", raw)
            elif kind == "ints":
                value = [int(x) for x in raw.replace(",", " ").split()]
            else:
                value = raw
        except ValueError:
            p.error(f"{flag} ({env}): '{raw}' is not {'a size' if 'size' in kind else 'a number'}")
        setattr(o, name, value)
    if o.pipe_inflight < 0 or o.pipe_inflight > 64:
        p.error(f"--pipe-inflight (PIPE_INFLIGHT): '{o.pipe_inflight}' is not 0..64")
    if o.tcp_cold_msg:
        try:
            o.tcp_cold_msg = to_bytes(o.tcp_cold_msg)
        except ValueError:
            o.tcp_cold_msg = 0
        if not o.tcp_cold_msg:
            p.error(f"--tcp-cold-msg (TCP_COLD_MSG): '{a.tcp_cold_msg}' is not a size")
    else:
        o.tcp_cold_msg = None
    if o.engine_memory not in ("auto", "gpu", "host"):
        p.error(f"--engine-memory (ENGINE_MEMORY): '{o.engine_memory}' is not auto, gpu or host")
    o.nccl_configs = o.nccl_configs.replace(",", " ").split()
    o.report = a.report
    if o.report is not None:
        if not os.path.isdir(o.report):
            p.error(f"--report: '{o.report}' is not a work folder")
        o.report = os.path.abspath(o.report)
    o.out = os.path.join(root, o.out)  # relative: from the repository root
    return o
