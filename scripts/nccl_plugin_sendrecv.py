"""NCCL send/recv GPU0 -> GPU1 through the tcpx-p2p ncclNet v7 plugin (libnccl-net-tcpxp.so).

Proves that NCCL itself loads our standalone plugin and moves correct data with it: every size is
a random tensor, checked byte for byte on the receiver, then timed. Launch one process per GPU:

  torchrun --nproc_per_node=2 scripts/nccl_plugin_sendrecv.py --plugin build/src/libnccl-net-tcpxp.so

The environment NCCL needs is set here unless the caller set it (setdefault): NCCL_NET_PLUGIN
(absolute path), NCCL_NET=tcpx-p2p-socket (NCCL fails instead of silently using another network),
NCCL_P2P_DISABLE=1, NCCL_SHM_DISABLE=1, NCCL_NVLS_ENABLE=0, NCCL_SOCKET_IFNAME=lo (bootstrap),
UCCL_SOCKET_IFNAME=lo (our transport's device filter), NCCL_DEBUG=INFO. The caller greps the log
for 'Loaded net plugin' and 'tcpx-p2p-socket'.

Output (rank 1): one line per size, "size=N PASS GB/s=X" or "size=N FAIL ...", then
"RESULT PASS" or "RESULT FAIL". Exit status 0 only if every size passed on both ranks.
"""
import argparse
import datetime
import os
import sys
import time

PLUGIN_NAME = "tcpx-p2p-socket"
DEFAULT_SIZES = [1 << 10, 64 << 10, 1 << 20, 1000003, 16 << 20, 64 << 20]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plugin", default=os.environ.get("TCPXP_NCCL_PLUGIN",
                                                       "build/src/libnccl-net-tcpxp.so"),
                   help="path of libnccl-net-tcpxp.so (made absolute)")
    p.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                   help="comma-separated byte counts (default 1 KiB .. 64 MiB)")
    p.add_argument("--iters", type=int, default=0,
                   help="timed iterations per size (default: about 256 MiB, 3 .. 50)")
    p.add_argument("--timeout", type=float, default=120,
                   help="seconds for process-group setup and each collective")
    p.add_argument("--no-force-net", action="store_true",
                   help="do not set NCCL_NET=tcpx-p2p-socket")
    return p.parse_args()


def setup_env(args):
    plugin = os.path.abspath(args.plugin)
    if not os.path.isfile(plugin):
        sys.exit(f"nccl_plugin_sendrecv: plugin {plugin} does not exist (build the project first)")
    env = {
        "NCCL_NET_PLUGIN": plugin,
        "NCCL_P2P_DISABLE": "1",
        "NCCL_SHM_DISABLE": "1",
        "NCCL_NVLS_ENABLE": "0",
        "NCCL_SOCKET_IFNAME": "lo",
        "UCCL_SOCKET_IFNAME": "lo",
        "NCCL_DEBUG": "INFO",
        "NCCL_DEBUG_SUBSYS": "INIT,NET,ENV",
        "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
    }
    if not args.no_force_net:
        env["NCCL_NET"] = PLUGIN_NAME
    for k, v in env.items():
        os.environ.setdefault(k, v)
    return plugin


def main():
    args = parse_args()
    plugin = setup_env(args)
    import torch
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    if world != 2:
        sys.exit("nccl_plugin_sendrecv: run with exactly 2 processes (torchrun --nproc_per_node=2)")
    if torch.cuda.device_count() < 2:
        sys.exit(f"nccl_plugin_sendrecv: needs 2 GPUs, found {torch.cuda.device_count()}")
    dev = torch.device("cuda", rank)
    torch.cuda.set_device(dev)
    dist.init_process_group("nccl", device_id=dev,
                            timeout=datetime.timedelta(seconds=args.timeout))
    if rank == 1:
        v = torch.cuda.nccl.version()
        v = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
        print(f"plugin {plugin}, NCCL {v}, "
              f"torch {torch.__version__}, NCCL_NET={os.environ.get('NCCL_NET', '')}", flush=True)

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        sys.exit(f"nccl_plugin_sendrecv: bad --sizes '{args.sizes}'")
    failures = 0
    for n in sizes:
        # The same bytes on both ranks: generated on the CPU from a per-size seed.
        g = torch.Generator().manual_seed(0x7C9E + n)
        expected = torch.randint(0, 256, (n,), dtype=torch.uint8, generator=g).to(dev)
        buf = expected.clone() if rank == 0 else torch.full((n,), 0xA5, dtype=torch.uint8,
                                                            device=dev)
        # Correctness: one transfer into a poisoned buffer.
        torch.cuda.synchronize()
        dist.barrier()
        if rank == 0:
            dist.send(buf, 1)
        else:
            dist.recv(buf, 0)
        torch.cuda.synchronize()
        ok = True
        bad = 0
        if rank == 1:
            diff = buf != expected
            bad = int(diff.sum().item())
            ok = bad == 0
        # Bandwidth: warm-up, then back-to-back transfers of the same buffer.
        iters = args.iters or max(3, min(50, (256 << 20) // max(n, 1)))
        for phase, count in (("warm", 2), ("time", iters)):
            torch.cuda.synchronize()
            dist.barrier()
            t = time.perf_counter()
            for _ in range(count):
                if rank == 0:
                    dist.send(buf, 1)
                else:
                    dist.recv(buf, 0)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t
        if rank == 1 and ok:
            # The timed transfers carried the same bytes: check again.
            bad = int((buf != expected).sum().item())
            ok = bad == 0
        if rank == 1:
            verdict = "PASS" if ok else f"FAIL ({bad} of {n} bytes differ)"
            print(f"size={n} {verdict} GB/s={n * iters / dt / 1e9:.2f} iters={iters}", flush=True)
        failures += 0 if ok else 1

    flag = torch.tensor([failures], dtype=torch.int32, device=dev)
    dist.all_reduce(flag)
    total = int(flag.item())
    if rank == 1:
        print(f"RESULT {'PASS' if total == 0 else 'FAIL'}: {len(sizes)} sizes, {total} failed",
              flush=True)
    dist.destroy_process_group()
    sys.exit(0 if total == 0 else 1)


if __name__ == "__main__":
    main()
