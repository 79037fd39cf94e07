"""The same-host CUDA IPC calls (connect_local, accept_local, advertise_ipc, write/read_ipc and their
v and _async forms) with UCCL HEAD's names, keywords and return shapes. Without a GPU: the
rendezvous between two processes, argument checks (raise where UCCL's UCCL_CHECK stops), refusals
of host memory and of bad blobs (False and last_error()). With a CUDA GPU (memory from torch, or
from libcudart through ctypes): two processes on GPU 0 move verified bytes both ways. Each test
uses a UCCL_TCPX_IPC_SCOPE of its own."""

import importlib.util
import os

import pytest

from p2p_harness import finish, pattern, run_pair, wait_all, wait_done


def _scope(name):
    os.environ["UCCL_TCPX_IPC_SCOPE"] = f"pytest-{name}"  # name carries the test process's pid


def _accept_host(peer, name):
    import tcpx_p2p as p2p

    _scope(name)
    ep = p2p.Endpoint(-1)
    peer.send("listening soon")
    ok, bdf, conn = ep.accept_local()
    assert ok, ep.last_error()
    assert bdf == "" and conn > 0
    finish(peer)
    return conn


def _connect_host(peer, name):
    import tcpx_p2p as p2p

    _scope(name)
    peer.expect("listening soon")
    ep = p2p.Endpoint(-1)
    ok, conn = ep.connect_local(remote_gpu_bdf="")  # a host-only acceptor: no BDF
    assert ok, ep.last_error()
    assert ep.close_connection(conn)
    finish(peer)
    return conn


def test_connect_local_meets_accept_local_in_another_process(core):
    accepted, connected = run_pair(_accept_host, _connect_host, f"meet-{os.getpid()}")
    assert accepted > 0 and connected > 0


def test_connect_local_without_acceptor_fails_within_the_deadline(core, monkeypatch):
    import time

    monkeypatch.setenv("UCCL_TCPX_TIMEOUT_MS", "300")
    monkeypatch.setenv("UCCL_TCPX_IPC_SCOPE", f"pytest-none-{os.getpid()}")
    ep = core.Endpoint(-1)
    start = time.monotonic()
    ok, conn = ep.connect_local("0000:4a:00.0")
    assert (ok, conn) == (False, 0)
    assert time.monotonic() - start < 5
    assert "no process of this user called accept_local" in ep.last_error()
    ok, conn = ep.connect_local("not-a-bdf")
    assert not ok and "is not a PCI address" in ep.last_error()


def test_ipc_argument_checks_raise_as_uccl(core):
    import numpy as np

    ep = core.Endpoint(-1)
    host = np.zeros(4096, dtype=np.uint8)
    p = host.ctypes.data
    for name in ("write_ipc", "read_ipc", "write_ipc_async", "read_ipc_async"):
        with pytest.raises(RuntimeError, match="IPC info 0 is 104 bytes; expected the 128-byte"):
            getattr(ep, name)(conn_id=1, ptr=p, size=8, info=b"\0" * 104)
    for name in ("writev_ipc", "readv_ipc", "writev_ipc_async", "readv_ipc_async"):
        with pytest.raises(RuntimeError, match="differ in length"):
            getattr(ep, name)(conn_id=1, ptr_v=[p, p], size_v=[8], info_v=[b"\0" * 128])
        with pytest.raises(TypeError):
            getattr(ep, name)(conn_id=1, ptr_v=[p], size_v=[8], info_v=["text"])
    with pytest.raises(RuntimeError, match="differ in length"):
        ep.advertisev_ipc(conn_id=0, ptr_v=[p], size_v=[])
    for name in ("send_ipc", "recv_ipc", "send_ipc_async", "recv_ipc_async"):
        with pytest.raises(NotImplementedError, match=f"{name}: UCCL 0.1.1's two-sided IPC"):
            getattr(ep, name)(conn_id=1, ptr=p, size=8)


def test_host_memory_and_bad_blobs_are_refused(core):
    import numpy as np

    ep = core.Endpoint(-1)
    host = np.zeros(4096, dtype=np.uint8)
    ok, blob = ep.advertise_ipc(conn_id=0, ptr=host.ctypes.data, size=4096)
    assert (ok, blob) == (False, b"")
    assert "not GPU memory" in ep.last_error() or "has no CUDA" in ep.last_error()
    ok, blobs = ep.advertisev_ipc(0, [host.ctypes.data], [4096])
    assert (ok, blobs) == (False, [])
    # An unknown connection (bad blob contents on a live one: ctest -R '^ipc\.').
    assert ep.write_ipc(12345, host.ctypes.data, 8, b"\0" * 128) is False
    assert "unknown or closed conn_id 12345" in ep.last_error()
    assert ep.read_ipc_async(12345, host.ctypes.data, 8, b"\x5a" * 128) == (False, 0)
    assert ep.writev_ipc(7, [host.ctypes.data], [8], [b"\0" * 128]) is False
    assert "ipc" in ep.info and ep.info["ipc"]


# ---- GPU: two processes on GPU 0 ----
# GPU memory comes from torch when it is installed (as UCCL's scripts use it), else from the CUDA
# runtime through ctypes (libcudart.so of the toolkit), so the test runs on a bare GPU machine.

N = (8 << 20) + 12345  # odd on purpose


def _cudart():
    import ctypes
    import glob

    names = ["libcudart.so"] + sorted(glob.glob("/usr/local/cuda*/lib64/libcudart.so*"))
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def _torch_first():
    """torch before tcpx_p2p, as UCCL's scripts do: importing torch after an Endpoint was made
    segfaults on the GPU machine (test_gpu.py's xfail records it)."""
    if importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401


class GpuBytes:
    """n bytes on GPU 0: .ptr, put(offset, numpy uint8), get(offset, n) -> numpy uint8."""

    def __init__(self, n):
        import ctypes

        self.n = n
        self._torch = importlib.util.find_spec("torch") is not None
        if self._torch:
            import torch

            self._t = torch.zeros(n, dtype=torch.uint8, device="cuda:0")
            torch.cuda.synchronize()  # the engine copies on its own streams: zeros first
            self.ptr = self._t.data_ptr()
        else:
            self._rt = _cudart()
            assert self._rt.cudaSetDevice(0) == 0
            p = ctypes.c_void_p()
            assert self._rt.cudaMalloc(ctypes.byref(p), ctypes.c_size_t(n)) == 0
            self.ptr = p.value
            assert self._rt.cudaMemset(ctypes.c_void_p(self.ptr), 0, ctypes.c_size_t(n)) == 0
            assert self._rt.cudaDeviceSynchronize() == 0  # asynchronous for device memory

    def put(self, offset, arr):
        import ctypes

        if self._torch:
            import torch

            self._t[offset : offset + arr.size] = torch.from_numpy(arr).to("cuda:0")
            torch.cuda.synchronize()
        else:
            rc = self._rt.cudaMemcpy(ctypes.c_void_p(self.ptr + offset), ctypes.c_void_p(arr.ctypes.data),
                                     ctypes.c_size_t(arr.size), 1)  # host to device
            assert rc == 0

    def get(self, offset, n):
        import ctypes

        import numpy as np

        if self._torch:
            return self._t[offset : offset + n].cpu().numpy()
        out = np.zeros(n, dtype=np.uint8)
        rc = self._rt.cudaMemcpy(ctypes.c_void_p(out.ctypes.data), ctypes.c_void_p(self.ptr + offset),
                                 ctypes.c_size_t(n), 2)  # device to host
        assert rc == 0
        return out


def _gpu_skip():
    if importlib.util.find_spec("torch") is not None:
        import torch

        return None if torch.cuda.is_available() else "torch sees no CUDA GPU: the GPU IPC tests run on the GPU machine"
    rt = _cudart()
    if rt is None:
        return "neither torch nor libcudart.so: no way to allocate GPU memory from Python"
    import ctypes

    n = ctypes.c_int(0)
    if rt.cudaGetDeviceCount(ctypes.byref(n)) != 0 or n.value == 0:
        return "no CUDA GPU: the GPU IPC tests run on the GPU machine (C++ forms: ctest -R 'gpu\\.ipc')"
    return None


@pytest.fixture
def gpu(core):
    reason = _gpu_skip()
    if reason:
        pytest.skip(reason)


def _gpu_owner(peer, name):
    """Accepts, advertises a GPU buffer filled with pattern 1, then checks what the peer wrote."""
    _torch_first()
    import tcpx_p2p as p2p

    _scope(name)
    ep = p2p.Endpoint(0)
    buf = GpuBytes(N)
    buf.put(0, pattern(N, 1))
    peer.send(ep.info["bdf"])
    ok, bdf, conn = ep.accept_local()
    assert ok, ep.last_error()
    ok, info = ep.advertise_ipc(conn, buf.ptr, N)
    assert ok and len(info) == 128, ep.last_error()
    # Three sub-buffers at odd offsets for the vector forms.
    parts = [(1, 4097), (5000, 1 << 20), (N - 777, 777)]
    ok, infos = ep.advertisev_ipc(conn, [buf.ptr + o for o, _ in parts], [n for _, n in parts])
    assert ok, ep.last_error()
    peer.send((info, infos, parts))
    peer.expect("wrote")  # the peer wrote pattern 2 into [3, N - 3) and patterns 10.. into the parts
    got = buf.get(0, N)
    want = pattern(N, 1)
    want[3 : N - 3] = pattern(N - 6, 2)
    for k, (o, n) in enumerate(parts):
        want[o : o + n] = pattern(n, 10 + k)
    assert (got == want).all(), f"{int((got != want).sum())} bytes differ"
    finish(peer)
    return N


def _gpu_user(peer, name):
    import numpy as np

    _torch_first()
    import tcpx_p2p as p2p

    _scope(name)
    bdf = peer.recv()
    ep = p2p.Endpoint(0)
    ok, conn = ep.connect_local(remote_gpu_bdf=bdf)
    assert ok, ep.last_error()
    info, infos, parts = peer.recv()
    # read_ipc: the whole buffer, every byte checked.
    local = GpuBytes(N + 16)
    assert ep.read_ipc(conn, local.ptr, N, info), ep.last_error()
    assert (local.get(0, N) == pattern(N, 1)).all()
    # read_ipc_async of a prefix into an odd local offset.
    ok, tid = ep.read_ipc_async(conn, local.ptr + 5, 1000001, info)
    assert ok, ep.last_error()
    wait_done(ep, tid)
    assert (local.get(5, 1000001) == pattern(N, 1)[:1000001]).all()
    # write_ipc: [0, N - 3) of the peer's buffer: its first 3 bytes as they were, then pattern 2.
    src = pattern(N, 1)
    src[3 : N - 3] = pattern(N - 6, 2)
    local.put(0, src)
    assert ep.write_ipc(conn, local.ptr, N - 3, info), ep.last_error()
    # writev_ipc_async into the parts (odd sizes and offsets), then readv_ipc them back.
    srcs = [GpuBytes(n) for _, n in parts]
    for k, (b, (_, n)) in enumerate(zip(srcs, parts)):
        b.put(0, pattern(n, 10 + k))
    ok, tid = ep.writev_ipc_async(conn, [b.ptr for b in srcs], [n for _, n in parts], infos)
    assert ok, ep.last_error()
    wait_all(ep, [tid])
    back = [GpuBytes(n) for _, n in parts]
    assert ep.readv_ipc(conn, [b.ptr for b in back], [n for _, n in parts], infos), ep.last_error()
    for k, b in enumerate(back):
        assert (b.get(0, parts[k][1]) == pattern(parts[k][1], 10 + k)).all()
    # Too many bytes for the blob: refused, nothing moved.
    assert ep.write_ipc(conn, local.ptr, N + 1, info) is False
    assert "more than the" in ep.last_error()
    # Host memory on this side: refused.
    host = np.zeros(16, dtype=np.uint8)
    assert ep.write_ipc(conn, host.ctypes.data, 16, info) is False
    assert "not GPU memory" in ep.last_error()
    assert ep.close_connection(conn)
    peer.send("wrote")
    finish(peer)
    return N


def test_gpu_ipc_two_processes_on_gpu0(gpu):
    run_pair(_gpu_owner, _gpu_user, f"gpu-{os.getpid()}", timeout=120)
