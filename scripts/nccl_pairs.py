"""NCCL point-to-point for P concurrent pairs, rank i -> rank i+P (GPU i -> GPU i+P), in one
torchrun job of 2P ranks: the NCCL baseline of scripts/scale_bench.py.

NCCL over sockets, the best configuration of ../shared/bench/README.md:

  NCCL_NET=Socket NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo NCCL_NVLS_ENABLE=0 \\
  NCCL_SOCKET_NTHREADS=8 NCCL_NSOCKS_PERTHREAD=4 NCCL_BUFFSIZE=67108864 \\
  NCCL_P2P_NET_CHUNKSIZE=4194304 torchrun --nproc_per_node=4 scripts/nccl_pairs.py --sizes 4M,64M

Per size: warm-up, a barrier of all ranks, then every pair runs --iters send/recv at once. The
receive buffers are poisoned before the timed transfers and checked after them. Rank 0 prints
(LABEL from --label or $LABEL, default nccl):

  LABEL pairs=P size=N pair=i GB/s=X                   (bytes / that pair's time)
  LABEL pairs=P size=N aggregate GB/s=X mean=M min/mean=R cores=C iters=I verified=yes|NO
  RESULT PASS | RESULT FAIL

aggregate = all bytes / (last end - first start); cores = user+system CPU seconds of all ranks
(all threads, NCCL's proxy threads included) over the timed window. GB = 1e9 bytes. Exit status 0
only when every pair's data verified.
"""
import argparse
import datetime
import os
import resource
import sys
import time


def parse_size(text):
    t = text.strip().upper()
    for suffix in ("IB", "B"):
        if t.endswith(suffix):
            t = t[: -len(suffix)]
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    value = int(t[:-1] if mult != 1 else t) * mult
    if value <= 0:
        raise ValueError(f"size must be positive: {text}")
    return value


def auto_iters(size):
    """The same default as scale_bench.py: about 2 GiB per pair, 10 .. 200 transfers."""
    return max(10, min(200, (2 << 30) // size))


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="4M,64M", help="comma-separated sizes, K/M/G = KiB/MiB/GiB")
    p.add_argument("--iters", type=int, default=0,
                   help="timed transfers per pair and size (default: about 2 GiB, 10 .. 200)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up transfers per pair and size")
    p.add_argument("--label", default=os.environ.get("LABEL", "nccl"), help="first word of each line")
    p.add_argument("--timeout", type=float, default=120,
                   help="seconds for process-group setup and each collective")
    args = p.parse_args()
    try:
        args.size_list = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError as e:
        p.error(f"bad --sizes '{args.sizes}': {e}")
    if not args.size_list or args.iters < 0 or args.warmup < 0:
        p.error("need at least one size, and --iters/--warmup >= 0")
    return args


def main():
    args = parse_args()
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")
    import torch
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if world < 2 or world % 2:
        sys.exit(f"nccl_pairs: needs an even number of ranks (2P), got {world}")
    if torch.cuda.device_count() < world:
        sys.exit(f"nccl_pairs: {world} ranks need {world} GPUs, torch sees {torch.cuda.device_count()}")
    P = world // 2
    sender = rank < P
    peer = rank + P if sender else rank - P
    dev = torch.device("cuda", local)
    torch.cuda.set_device(dev)
    dist.init_process_group("nccl", device_id=dev, timeout=datetime.timedelta(seconds=args.timeout))
    if rank == 0:
        v = torch.cuda.nccl.version()
        v = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
        print(f"# nccl_pairs: {P} pairs, NCCL {v}, torch {torch.__version__}, NCCL_NET="
              f"{os.environ.get('NCCL_NET', '')}", flush=True)

    failures = 0
    for si, n in enumerate(args.size_list):
        iters = args.iters or auto_iters(n)
        seed = (min(rank, peer) * 37 + si * 11 + 1) % 251  # the pair's pattern, same on both ranks
        expected = ((torch.arange(n, dtype=torch.int32, device=dev) + seed) % 251).to(torch.uint8)
        buf = expected.clone() if sender else torch.empty(n, dtype=torch.uint8, device=dev)

        def transfer(count):
            for _ in range(count):
                if sender:
                    dist.send(buf, peer)
                else:
                    dist.recv(buf, peer)

        transfer(args.warmup)  # connections are made by the first transfer of each pair
        if not sender:
            buf.fill_(0xFF)  # never a pattern byte: the timed transfers must overwrite it
        torch.cuda.synchronize()
        dist.barrier()
        torch.cuda.synchronize()
        c0, t0 = cpu_seconds(), time.monotonic()
        transfer(iters)
        torch.cuda.synchronize()
        t1, c1 = time.monotonic(), cpu_seconds()
        bad = 0 if sender else int((buf != expected).sum().item())

        mine = torch.tensor([t0, t1, c1 - c0, float(bad)], dtype=torch.float64, device=dev)
        every = [torch.zeros_like(mine) for _ in range(world)]
        dist.all_gather(every, mine)
        rows = [x.tolist() for x in every]
        if bad:
            failures += 1
        if rank == 0:
            gbps = []
            for i in range(P):
                s, r = rows[i], rows[i + P]
                start, end = min(s[0], r[0]), max(s[1], r[1])
                gbps.append(n * iters / (end - start) / 1e9)
                print(f"{args.label} pairs={P} size={n} pair={i} GB/s={gbps[-1]:.2f}"
                      + ("" if r[3] == 0 else f" FAIL ({int(r[3])} of {n} bytes differ)"), flush=True)
            first = min(x[0] for x in rows)
            last = max(x[1] for x in rows)
            agg = P * n * iters / (last - first) / 1e9
            mean = sum(gbps) / P
            cores = sum(x[2] for x in rows) / (last - first)
            verified = all(rows[i + P][3] == 0 for i in range(P))
            print(f"{args.label} pairs={P} size={n} aggregate GB/s={agg:.2f} mean={mean:.2f} "
                  f"min/mean={min(gbps) / mean:.2f} cores={cores:.2f} iters={iters} "
                  f"verified={'yes' if verified else 'NO'}", flush=True)
        del buf, expected

    flag = torch.tensor([failures], dtype=torch.int32, device=dev)
    dist.all_reduce(flag)
    total = int(flag.item())
    if rank == 0:
        print(f"RESULT {'PASS' if total == 0 else 'FAIL'}: {len(args.size_list)} sizes, "
              f"{total} receiver-size checks failed", flush=True)
    dist.destroy_process_group()
    sys.exit(0 if total == 0 else 1)


if __name__ == "__main__":
    main()
