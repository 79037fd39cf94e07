#!/usr/bin/env python3
"""Where the pieces of each transfer spent their time, from two UCCL_TCPX_TRACE files.

Run a transfer with UCCL_TCPX_TRACE=PREFIX on both peers (e.g. `tcpx-p2p bench --local`); each
process writes PREFIX.<pid>.<conn>.csv when a connection closes, one line per piece:
  channel, s|r, transfer, bytes, t0, t1, t2, t3   (times: CLOCK_MONOTONIC nanoseconds,
                                                   comparable across processes on one machine)
  send: queued, staging copy started (0: direct), isend posted, send done
  recv: queued, irecv posted, received, in the user's buffer and consumed

The k-th send of a channel pairs with the k-th receive of that channel at the peer (both
sides post in the same order). Transfers are told apart by the sender's transfer column.

  trace_report.py SENDER.csv RECEIVER.csv [--detail N]
"""
import argparse
import csv
import statistics
import sys


def load(path):
    rows = {}
    with open(path) as f:
        for ch, d, xfer, n, t0, t1, t2, t3 in csv.reader(f):
            rows.setdefault((int(ch), d), []).append(
                (int(n), int(t0), int(t1), int(t2), int(t3), int(xfer)))
    return rows


def occupancy(intervals):
    """Time-weighted mean number of open intervals, and the share of the span with 16 open
    (a comm's whole TCPX window), over the span from the first start to the last end."""
    events = sorted([(b, 1) for b, _ in intervals] + [(e, -1) for _, e in intervals])
    if not events:
        return 0.0, 0.0
    span = events[-1][0] - events[0][0]
    if span <= 0:
        return 0.0, 0.0
    area = full = 0
    depth, last = 0, events[0][0]
    for t, d in events:
        area += depth * (t - last)
        if depth >= WINDOW:
            full += t - last
        depth += d
        last = t
    return area / span, full / span


WINDOW = 16  # requests a comm may have posted (a receive counts until consumed)


def print_windows(snd, rcv):
    """Per channel: how full each comm's window of 16 posted requests was. A receive window
    that is often full while its sender's is not means the receiver posts (consumes) too
    slowly; both rarely full means the drivers do not feed the comms."""
    print("\nwindows (posted -> done; receive: posted -> consumed), time-weighted:")
    print("channel | send mean | send full | recv mean | recv full | recv waiting for bytes")
    for ch in sorted({c for c, _ in snd} | {c for c, _ in rcv}):
        sends = snd.get((ch, "s"), [])
        recvs = rcv.get((ch, "r"), [])
        sm, sf = occupancy([(s[3], s[4]) for s in sends])
        rm, rf = occupancy([(r[2], r[4]) for r in recvs])
        wm, _ = occupancy([(r[2], r[3]) for r in recvs])
        print(f"{ch} | {sm:.1f} | {100 * sf:.0f}% | {rm:.1f} | {100 * rf:.0f}% | {wm:.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sender")
    ap.add_argument("receiver")
    ap.add_argument("--detail", type=int, default=-1,
                    help="print every piece of transfer N (0-based; default: the median one)")
    a = ap.parse_args()
    snd, rcv = load(a.sender), load(a.receiver)
    pieces = []
    for (ch, d), sends in snd.items():
        if d != "s":
            continue
        recvs = rcv.get((ch, "r"), [])
        if len(recvs) != len(sends):
            print(f"channel {ch}: {len(sends)} sends but {len(recvs)} receives; pairing the first",
                  file=sys.stderr)
        for s, r in zip(sends, recvs):
            pieces.append((ch, s, r))
    if not pieces:
        sys.exit("no send records in " + a.sender)
    # Transfers in the order their first piece was queued at the sender.
    by_xfer = {}
    for p in sorted(pieces, key=lambda p: p[1][1]):
        by_xfer.setdefault(p[1][5], []).append(p)
    groups = list(by_xfer.values())

    def us(x):
        return x / 1e3

    print(f"{len(groups)} transfers, {len(pieces)} pieces")
    print("transfer | pieces | MiB | us total | GB/s | copy wait | copy->post | post->sent | "
          "net (post->received) | landing | irecv lead")
    stats = []
    for i, g in enumerate(groups):
        start = min(s[1] for _, s, _ in g)
        end = max(r[4] for _, _, r in g)
        size = sum(s[0] for _, s, _ in g)
        staged = [s for _, s, _ in g if s[2]]
        cw = statistics.mean(s[2] - s[1] for s in staged) if staged else 0
        cp = statistics.mean(s[3] - s[2] for s in staged) if staged else 0
        ps = statistics.mean(s[4] - s[3] for _, s, _ in g)
        net = statistics.mean(r[3] - s[3] for _, s, r in g)
        land = statistics.mean(r[4] - r[3] for _, _, r in g)
        lead = statistics.mean(s[3] - r[2] for _, s, r in g)
        stats.append((end - start, i))
        print(f"{i} | {len(g)} | {size / 2**20:.1f} | {us(end - start):.0f} | "
              f"{size / (end - start):.2f} | {us(cw):.0f} | {us(cp):.0f} | {us(ps):.0f} | "
              f"{us(net):.0f} | {us(land):.0f} | {us(lead):.0f}")
    print_windows(snd, rcv)
    pick = a.detail if a.detail >= 0 else sorted(stats)[len(stats) // 2][1]
    g = groups[pick]
    start = min(s[1] for _, s, _ in g)
    print(f"\ntransfer {pick}, us from its first piece queued:")
    print("ch | copy start | copy done->isend | send done | irecv posted | received | landed")
    for ch, s, r in sorted(g, key=lambda p: (p[0], p[1][3])):
        print(f"{ch} | {us(s[2] - start) if s[2] else 0:.0f} | {us(s[3] - start):.0f} | "
              f"{us(s[4] - start):.0f} | {us(r[2] - start):.0f} | {us(r[3] - start):.0f} | "
              f"{us(r[4] - start):.0f}")


if __name__ == "__main__":
    main()
