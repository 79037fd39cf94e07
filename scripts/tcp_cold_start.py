#!/usr/bin/env python3
"""Does a fresh loopback TCP connection start slow? Per-message round trips of one new connection.

The sender writes MSG-byte messages, the receiver reads each whole and answers one byte; the
mean round trip is printed per block of 50 messages. If the first blocks are no slower than the
later ones, a slow start seen in the engine is not the kernel's TCP (BENCHMARKS.md section 18).

  tcp_cold_start.py [--msg BYTES] [--count N] [--rcvbuf BYTES]
"""
import argparse
import socket
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--msg", type=int, default=256 << 10, help="message bytes (default 256 KiB)")
    ap.add_argument("--count", type=int, default=400, help="messages (default 400)")
    ap.add_argument("--rcvbuf", type=int, default=0,
                    help="SO_RCVBUF of the receiving socket; 0 keeps autotuning (default)")
    a = ap.parse_args()
    if a.msg < 1 or a.count < 1 or a.rcvbuf < 0:
        ap.error("--msg and --count must be positive, --rcvbuf not negative")

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def receive():
        conn, _ = listener.accept()
        if a.rcvbuf:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
        view = memoryview(bytearray(a.msg))
        for _ in range(a.count):
            got = 0
            while got < a.msg:
                n = conn.recv_into(view[got:])
                if n == 0:
                    return
                got += n
            conn.sendall(b"a")
        conn.close()

    peer = threading.Thread(target=receive)
    peer.start()
    s = socket.create_connection(listener.getsockname())
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = b"x" * a.msg
    times = []
    for _ in range(a.count):
        t0 = time.perf_counter()
        s.sendall(data)
        if not s.recv(1):
            raise SystemExit("the receiver closed early")
        times.append(time.perf_counter() - t0)
    peer.join()
    s.close()
    print(f"{a.msg}-byte messages, SO_RCVBUF {a.rcvbuf or 'autotuned'}")
    for start in range(0, a.count, 50):
        block = times[start:start + 50]
        print(f"  messages {start:4d}-{start + len(block) - 1:4d}: "
              f"{sum(block) / len(block) * 1e6:8.1f} us per round trip")


if __name__ == "__main__":
    main()
