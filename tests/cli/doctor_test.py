#!/usr/bin/env python3
"""Checks of `tcpx-p2p doctor` (python3 standard library only).

Usage: doctor_test.py PATH/TO/tcpx-p2p FAKE_PLUGIN_DIR

FAKE_PLUGIN_DIR holds libfake_ok.so, libfake_no_symbol.so and libfake_incomplete.so
(tests/transport/fake_plugins). The plugin's init must never run: libfake_ok.so logs
"fake plugin init call" through the logger when it does.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile

TIMEOUT_S = 30


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NCCL_", "TCPXP_")) and k not in (
               "UCCL_P2P_TRANSPORT", "UCCL_TCPX_PLUGIN_PATH")}
    env["UCCL_TCPX_DEBUG"] = "TRACE"  # any init log line would show
    return env


def run(tool, *args, env=None):
    merged = base_env()
    merged.update(env or {})
    proc = subprocess.run([tool, *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=merged)
    return proc.returncode, proc.stdout, proc.stderr


def expect(cond, what, out="", err=""):
    if not cond:
        sys.stderr.write(f"FAIL: {what}\n--- stdout ---\n{out}\n--- stderr ---\n{err}\n")
        sys.exit(1)
    print(f"ok: {what}")


def lines(out, tag, *words):
    """Finding lines with `tag` ([OK], [WARN], [FAIL]) that contain every word."""
    return [l for l in out.splitlines()
            if l.strip().startswith(tag) and all(w in l for w in words)]


def main():
    tool, plugins = sys.argv[1], sys.argv[2]
    ok_lib = os.path.join(plugins, "libfake_ok.so")
    empty_dir = tempfile.mkdtemp(prefix="tcpxp-no-rxdm-")

    # Missing plugin: the FAIL line names UCCL_TCPX_PLUGIN_PATH.
    rc, out, err = run(tool, "doctor", "--require", "tcpx",
                       env={"UCCL_TCPX_PLUGIN_PATH": "/nonexistent/libnccl-net.so"})
    expect(rc == 1, f"missing plugin exits 1 (got {rc})", out, err)
    expect(lines(out, "[FAIL]", "/nonexistent/libnccl-net.so", "UCCL_TCPX_PLUGIN_PATH"),
           "missing plugin: FAIL line naming the path and UCCL_TCPX_PLUGIN_PATH", out, err)

    # A library without the symbol, an incomplete table.
    rc, out, err = run(tool, "doctor", "--require", "tcpx", "--plugin",
                       os.path.join(plugins, "libfake_no_symbol.so"))
    expect(rc == 1 and lines(out, "[FAIL]", "exports no ncclNetPlugin_v7"),
           "no-symbol library: FAIL 'exports no ncclNetPlugin_v7'", out, err)
    expect(lines(out, "[OK]", "dlopen"), "no-symbol library: dlopen itself OK", out, err)
    rc, out, err = run(tool, "doctor", "--require", "tcpx", "--plugin",
                       os.path.join(plugins, "libfake_incomplete.so"))
    expect(rc == 1 and lines(out, "[FAIL]", "incomplete table", "isend", "test"),
           "incomplete table: FAIL naming isend and test", out, err)

    # Not a shared library: dlerror is printed.
    with tempfile.NamedTemporaryFile(suffix=".so") as junk:
        junk.write(b"not an ELF file")
        junk.flush()
        rc, out, err = run(tool, "doctor", "--require", "tcpx", "--plugin", junk.name)
        expect(rc == 1 and lines(out, "[FAIL]", "does not load:"),
               "junk library: FAIL with dlerror", out, err)

    # The ok fake plugin: name printed, plugin section all OK, init never called.
    rc, out, err = run(tool, "doctor", env={"UCCL_TCPX_PLUGIN_PATH": ok_lib,
                                            "UCCL_P2P_TRANSPORT": "tcpx"})
    expect(lines(out, "[OK]", 'name "fake"', "init not called"), "ok plugin: its name is printed",
           out, err)
    expect(lines(out, "[OK]", "every required member"), "ok plugin: table complete", out, err)
    plugin_section = out.split("\n\n")[0]
    expect(plugin_section.startswith("plugin") and "[FAIL]" not in plugin_section
           and "[WARN]" not in plugin_section, "ok plugin: the plugin section has only OK", out, err)
    expect("fake plugin init call" not in out + err, "the plugin's init is never called", out, err)

    # The transport the engine would choose, with the engine's reason (the same words as info).
    rc, out, err = run(tool, "doctor", "--plugin", ok_lib, env={"UCCL_P2P_TRANSPORT": "tcp"})
    expect(lines(out, "[WARN]", "would use built-in socket", "UCCL_P2P_TRANSPORT=tcp"),
           "UCCL_P2P_TRANSPORT=tcp: WARN that the built-in transport is used", out, err)
    expect(lines(out, "[OK]", "chunk 1 MiB", "the built-in transport's preferred chunk")
           and lines(out, "[OK]", "GPU buffers: staged"),
           "doctor: the built-in transport's chunk and GPU path", out, err)
    rc, out, err = run(tool, "doctor", env={"UCCL_TCPX_PLUGIN_PATH": ok_lib,
                                            "UCCL_P2P_TRANSPORT": "tcpx"})
    expect(lines(out, "[OK]", "would use tcpx", "UCCL_P2P_TRANSPORT=tcpx")
           and lines(out, "[OK]", "GPU buffers: send: direct", "receive: unpack"),
           "UCCL_P2P_TRANSPORT=tcpx: OK, GPU receives unpack", out, err)
    auto_env = {"UCCL_TCPX_PLUGIN_PATH": ok_lib, "NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX":
                tempfile.gettempdir() + "/no-rxdm-here"}
    rc, out, err = run(tool, "doctor", env=auto_env)
    found = lines(out, "", "an endpoint would use")
    rc, info, ierr = run(tool, "info", env=auto_env)
    because = [l.split("because", 1)[1].strip() for l in info.splitlines()
               if l.strip().startswith("because")]
    expect(len(found) == 1 and len(because) == 1 and because[0] in found[0]
           and ("no GPU driver" in because[0] or "rxdm (TCPX's receive-datapath manager) is "
                                                  "not running" in because[0]),
           "doctor and info give the same automatic choice and reason", out + info, err + ierr)
    expect("fake plugin init call" not in out + err + info + ierr,
           "the plugin's init is never called by doctor or info", out, err)

    # Bad environment values.
    for env, words, what in [
            ({"NCCL_DYNAMIC_CHUNK_SIZE": "0"}, ["NCCL_DYNAMIC_CHUNK_SIZE=0", "hangs"], "chunk 0"),
            ({"NCCL_DYNAMIC_CHUNK_SIZE": "abc"}, ["NCCL_DYNAMIC_CHUNK_SIZE=abc: not a number"],
             "chunk abc"),
            ({"NCCL_SOCKET_NTHREADS": "4", "NCCL_NSOCKS_PERTHREAD": "4"}, ["4 x 4 = 16", "> 8"],
             "4 x 4 sockets"),
            ({"NCCL_SOCKET_NTHREADS": "two"}, ["NCCL_SOCKET_NTHREADS=two: not a number"],
             "threads 'two'"),
            ({"NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS": "5ms"}, ["unknown unit 'ms'"],
             "flow-steering wait '5ms'"),
            ({"NCCL_GPUDIRECTTCPX_TX_BINDINGS": "eth1-8"}, ["malformed entry"], "bindings junk")]:
        rc, out, err = run(tool, "doctor", "--require", "tcpx", "--plugin", ok_lib, env=env)
        expect(rc == 1 and lines(out, "[FAIL]", *words), f"env {what}: FAIL line", out, err)
        fix = out.splitlines()[out.splitlines().index(lines(out, "[FAIL]", *words)[0]) + 1]
        expect("fix: export" in fix, f"env {what}: the fix line follows", out, err)
    rc, out, err = run(tool, "doctor", "--plugin", ok_lib, env={
        "NCCL_DYNAMIC_CHUNK_SIZE": "524288",
        "NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS": "50000",
        "NCCL_SOCKET_NTHREADS": "1", "NCCL_NSOCKS_PERTHREAD": "4"})
    for words in (["NCCL_DYNAMIC_CHUNK_SIZE=524288"],
                  ["NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS=50000"],
                  ["1 x 4 = 4"]):
        expect(lines(out, "[OK]", *words), f"good value {words[0]} is OK", out, err)
    rc, out, err = run(tool, "doctor", "--plugin", ok_lib)
    expect(lines(out, "[WARN]", "NCCL_DYNAMIC_CHUNK_SIZE unset")
           and lines(out, "[WARN]", "FLOW_STEERING_WAIT_MICROS unset")
           and lines(out, "[WARN]", "NCCL_GPUDIRECTTCPX_CTRL_DEV unset"),
           "unset knobs are WARN", out, err)
    rc, out, err = run(tool, "doctor", "--plugin", ok_lib, env={
        "NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS": "5000000"})
    expect(lines(out, "[WARN]", "over 1 s"), "a 5 s flow-steering wait is WARN", out, err)

    # A fake machine: sysfs/procfs trees, an rxdm socket; everything that can pass passes.
    with tempfile.TemporaryDirectory() as tmp:
        tmp = os.path.realpath(tmp)
        sysfs, procfs, rxdm = (os.path.join(tmp, d) for d in ("sys", "proc", "rxdm"))
        for nic, node in (("eth0", "0"), ("eth1", "0"), ("eth2", "1")):
            os.makedirs(os.path.join(sysfs, "class/net", nic, "device"))
            with open(os.path.join(sysfs, "class/net", nic, "device/numa_node"), "w") as f:
                f.write(node + "\n")
        for node, cpus in (("0", "0-3"), ("1", "4-7")):
            os.makedirs(os.path.join(sysfs, "devices/system/node/node" + node))
            with open(os.path.join(sysfs, "devices/system/node/node" + node, "cpulist"), "w") as f:
                f.write(cpus + "\n")
        os.makedirs(os.path.join(sysfs, "kernel/dmabuf"))
        os.makedirs(os.path.join(procfs, "driver/nvidia"))
        with open(os.path.join(procfs, "driver/nvidia/version"), "w") as f:
            f.write("NVRM version: fake 1.0\n")
        os.makedirs(rxdm)
        rxdm_socks = []
        for name in ("rx_rule_manager", "rx_rule_uninstall"):
            rxdm_socks.append(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            rxdm_socks[-1].bind(os.path.join(rxdm, name))
        env = {"TCPXP_SYSFS_ROOT": sysfs, "TCPXP_PROCFS_ROOT": procfs,
               "NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": rxdm,
               "NCCL_GPUDIRECTTCPX_CTRL_DEV": "eth0",
               "NCCL_GPUDIRECTTCPX_SOCKET_IFNAME": "eth1,eth9",
               "NCCL_GPUDIRECTTCPX_TX_BINDINGS": "eth1:2-3,8;eth2:4-7",
               "NCCL_GPUDIRECTTCPX_RX_BINDINGS": "eth1:0-3"}
        rc, out, err = run(tool, "doctor", "--plugin", ok_lib, env=env)
        for sock in rxdm_socks:
            sock.close()
        expect(lines(out, "[OK]", "NVIDIA driver present", "fake 1.0"),
               "fake procfs: driver found", out, err)
        expect(lines(out, "[OK]", "unix sockets rx_rule_manager and rx_rule_uninstall"),
               "rxdm's flow-steering sockets found", out, err)
        expect(lines(out, "[FAIL]", "no such interface: eth9"), "unknown data NIC is FAIL", out, err)
        expect(lines(out, "[OK]", "NCCL_GPUDIRECTTCPX_CTRL_DEV=eth0"), "ctrl dev OK", out, err)
        expect(lines(out, "[WARN]", "TX_BINDINGS", "eth1", "NUMA node 0", "cores 8 "),
               "TX binding outside the NIC's NUMA node is WARN (core 8 only)", out, err)
        expect(lines(out, "[OK]", "RX_BINDINGS=eth1:0-3"), "RX binding on the NUMA node OK",
               out, err)
        expect(lines(out, "[OK]", "kernel/dmabuf present"), "fake sysfs: dmabuf seen", out, err)

    # Both transports and one verdict. TCPX is not ready here (no GPU driver or no rxdm); the
    # built-in transport passes its self-test, so a plain doctor exits 0 and says it is used.
    rc, out, err = run(tool, "doctor", "--plugin", ok_lib,
                       env={"NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": empty_dir})
    verdict = [l for l in out.splitlines() if l.startswith("verdict:")]
    expect(rc == 0 and lines(out, "TCPX", "NOT READY") and lines(out, "built-in", "READY: 0 FAIL")
           and len(verdict) == 1 and "READY: an endpoint on this machine will use built-in" in
           verdict[0], "no TCPX: built-in READY, verdict names it, exit 0", out, err)
    expect(lines(out, "[OK]", "self-test passed", "every byte checked"),
           "the built-in self-test ran and passed", out, err)
    rc, out, err = run(tool, "doctor", "--require", "tcpx", "--plugin", ok_lib,
                       env={"NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": empty_dir})
    expect(rc == 1 and "--require tcpx, but an endpoint here would use built-in" in err,
           "--require tcpx on a machine without TCPX: exit 1 and why", out, err)
    rc, out, err = run(tool, "doctor", "--require", "built-in", "--plugin", ok_lib)
    expect(rc == 0, "--require built-in where the built-in is used and ready: exit 0", out, err)
    rc, out, err = run(tool, "doctor", "--require", "rdma")
    expect(rc == 2 and "--require takes tcpx or built-in" in err, "--require rdma exits 2",
           out, err)
    rc, out, err = run(tool, "doctor", "--plugin", ok_lib,
                       env={"UCCL_SOCKET_IFNAME": "nosuchnic9", "UCCL_P2P_TRANSPORT": "tcp"})
    expect(rc == 1 and lines(out, "[FAIL]", "no usable interface", "UCCL_SOCKET_IFNAME=nosuchnic9")
           and lines(out, "built-in", "NOT READY") and "verdict: NOT READY" in out,
           "the built-in transport without an interface: NOT READY, exit 1", out, err)

    # rxdm is its own sockets: a stray socket is not rxdm; flow steering needs both sockets; the
    # GPU receive buffers are listed by PCI address.
    with tempfile.TemporaryDirectory() as rx:
        socks = []

        def bind(name):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(os.path.join(rx, name))
            socks.append(s)

        bind("some_other.sock")
        rc, out, err = run(tool, "doctor", "--plugin", ok_lib,
                           env={"NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": rx})
        expect(lines(out, "[FAIL]", "rxdm", "not running", "rx_rule_manager and rx_rule_uninstall",
                     rx), "a stray unix socket is not rxdm", out, err)
        bind("rx_rule_manager")
        rc, out, err = run(tool, "doctor", "--plugin", ok_lib,
                           env={"NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": rx})
        expect(lines(out, "[FAIL]", "no rx_rule_uninstall unix socket") and
               not lines(out, "[FAIL]", "no rx_rule_manager"),
               "one flow-steering socket: FAIL names the missing one", out, err)
        bind("rx_rule_uninstall")
        bind("get_gpu_fd_0000:04:00.0")
        bind("get_gpu_metadata_0000:04:00.0")
        bind("get_gpu_fd_0000:05:00.0")  # without its metadata socket: not listed
        rc, out, err = run(tool, "doctor", "--plugin", ok_lib,
                           env={"NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": rx})
        expect(lines(out, "[OK]", "rx_rule_manager and rx_rule_uninstall")
               and lines(out, "[OK]", "for 1 GPU(s): 0000:04:00.0"),
               "rxdm's sockets found; GPU buffers listed by PCI address", out, err)
        for s in socks:
            s.close()

    # TCPX forced, rxdm absent: the endpoint fails at creation, naming rxdm and the directory,
    # before any connection (not seconds later as an accept error).
    google = os.path.join(plugins, "libfake_google_name.so")
    proc = subprocess.run([tool, "bench", "--server", "--host"], capture_output=True, text=True,
                          timeout=TIMEOUT_S,
                          env={**base_env(), "UCCL_P2P_TRANSPORT": "tcpx",
                               "UCCL_TCPX_PLUGIN_PATH": google,
                               "NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": empty_dir})
    text = proc.stdout + proc.stderr
    expect(proc.returncode != 0 and "rxdm" in text and "not running" in text
           and empty_dir in text and "UCCL_P2P_TRANSPORT=tcpx" in text,
           "forced TCPX without rxdm: a clear error at endpoint creation", proc.stdout,
           proc.stderr)

    # --json parses; usage errors exit 2.
    rc, out, err = run(tool, "doctor", "--json", "--plugin", ok_lib,
                       env={"NCCL_DYNAMIC_CHUNK_SIZE": "0", "UCCL_P2P_TRANSPORT": "tcpx"})
    report = json.loads(out)
    expect(report["ready"] is False and report["tcpx_ready"] is False and rc == 1
           and report["transport"] == "tcpx" and report["builtin_ready"] is True,
           "--json: TCPX forced and not ready: ready false, exit 1; built-in ready", out, err)
    expect(all(set(f) == {"level", "scope", "check", "message", "fix"} and
               f["level"] in ("ok", "warn", "fail") and
               f["scope"] in ("tcpx", "built-in", "both") for f in report["findings"]),
           "--json: every finding has level, scope, check, message, fix", out, err)
    expect(any(f["level"] == "fail" and "NCCL_DYNAMIC_CHUNK_SIZE=0" in f["message"]
               for f in report["findings"]), "--json: the chunk-size FAIL is there", out, err)
    expect(any(f["level"] == "ok" and 'name "fake"' in f["message"] for f in report["findings"]),
           "--json: the plugin name is there", out, err)
    rc, out, err = run(tool, "doctor", "--bogus")
    expect(rc == 2 and "unknown flag" in err, f"a bad flag exits 2 (got {rc})", out, err)
    rc, out, err = run(tool, "doctor", "--plugin")
    expect(rc == 2, f"--plugin without a value exits 2 (got {rc})", out, err)
    rc, out, err = run(tool, "doctor", "--help")
    expect(rc == 0 and "--plugin" in out and "[FAIL]" in out, "--help exits 0", out, err)
    print("all doctor checks passed")


if __name__ == "__main__":
    main()
