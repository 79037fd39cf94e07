"""The whole UCCL P2P Python surface, in the forms of release 0.1.1 and of HEAD (docs/UCCL_API.md),
called the way UCCL's scripts call it: keyword names included, two processes over loopback, every
byte checked. Written for this project (UCCL's own scripts are not copied here).

Each two-process test runs on host memory (numpy) and on GPU memory (torch CUDA tensors); the GPU
form skips, saying why, without torch or a CUDA GPU."""

import importlib.util
import struct
import time

import pytest

from p2p_harness import DEADLINE_S, finish, pattern, run_pair

S = 64 << 10  # one slot
NO_MR = 2**64 - 1

# Every Endpoint call of UCCL 0.1.1 (c558a098) and HEAD (p2p/engine_api.cc), both included.
UCCL_CALLS = """
    start_passive_accept connect add_remote_endpoint remove_remote_endpoint get_metadata
    parse_metadata accept reg regv register_memory deregister_memory get_serialized_descs
    deserialize_descs transfer dereg send recv send_async recv_async sendv recvv sendv_async
    recvv_async read read_async readv readv_async write write_async writev writev_async advertise
    advertisev connect_local accept_local send_ipc recv_ipc send_ipc_async recv_ipc_async write_ipc
    read_ipc write_ipc_async read_ipc_async writev_ipc readv_ipc writev_ipc_async readv_ipc_async
    advertise_ipc advertisev_ipc poll_async conn_id_of_rank""".split()

MEMORY = ["host", "gpu"]


def _gpu_skip_reason():
    if importlib.util.find_spec("torch") is None:
        return "GPU form: torch is not installed"
    import torch

    if not torch.cuda.is_available():
        return "GPU form: torch sees no CUDA GPU"
    return None


@pytest.fixture(params=MEMORY)
def mem(request, core):
    if request.param == "gpu":
        reason = _gpu_skip_reason()
        if reason:
            pytest.skip(reason)
    return request.param


class Buf:
    """n bytes of host (numpy) or GPU (torch CUDA) memory; tensor-like, as register_memory wants."""

    def __init__(self, mem, n, fill=0):
        self.mem, self.n = mem, n
        if mem == "host":
            import numpy as np

            self.t = np.full(n, fill, dtype=np.uint8)
            self.ptr = self.t.ctypes.data
        else:
            import torch

            self.t = torch.full((n,), fill, dtype=torch.uint8, device="cuda")
            self.ptr = self.t.data_ptr()

    @classmethod
    def at(cls, mem, ptr, n):
        """A tensor-like view of memory someone else owns."""
        view = cls.__new__(cls)
        view.mem, view.n, view.t, view.ptr = mem, n, None, ptr
        return view

    def view(self, offset, n):
        return Buf.at(self.mem, self.ptr + offset, n)

    def set(self, arr, offset=0):
        if self.mem == "host":
            self.t[offset:offset + len(arr)] = arr
        else:
            import torch

            self.t[offset:offset + len(arr)].copy_(torch.from_numpy(arr).cuda())
            torch.cuda.synchronize()

    def get(self):
        if self.mem == "host":
            return self.t.copy()
        import torch

        torch.cuda.synchronize()
        return self.t.cpu().numpy()

    # What register_memory calls (torch.Tensor's names).
    def data_ptr(self):
        return self.ptr

    def numel(self):
        return self.n

    def element_size(self):
        return 1


def _p2p():
    # torch (the GPU form's tensors) before the endpoint, as UCCL's scripts do: importing torch
    # after an Endpoint was made segfaults on the GPU machine (test_gpu.py's xfail records it).
    if importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401
    import tcpx_p2p

    return tcpx_p2p


def _serve(peer):
    """An Endpoint() (GPU chosen on first use) with its metadata sent to the peer, one accept."""
    ep = _p2p().Endpoint()
    peer.send(ep.get_metadata())
    ok, ip, gpu, conn = ep.accept()
    assert ok and isinstance(ip, str) and isinstance(gpu, int), ep.last_error()
    return ep, conn


def _dial(peer):
    P = _p2p()
    ep = P.Endpoint()
    ip, port, bdf = P.Endpoint.parse_metadata(peer.recv())
    ok, conn = ep.connect(remote_ip_addr=ip, remote_gpu_bdf=bdf, remote_port=port)
    assert ok, ep.last_error()
    return ep, conn


def _reg(ep, buf, size=None):
    ok, mr = ep.reg(ptr=buf.ptr, size=buf.n if size is None else size)
    assert ok, ep.last_error()
    return mr


def _wait(ep, tid, expect_ok=True):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        ok, done = ep.poll_async(transfer_id=tid)
        if done or not ok:
            assert (ok, done) == (expect_ok, True), f"transfer {tid}: {(ok, done)} {ep.last_error()}"
            return
        assert time.monotonic() < deadline, f"transfer {tid} not done after {DEADLINE_S} s"
        time.sleep(0.0002)  # backoff between polls, bounded by the deadline


# ---- connect: 0.1.1 / HEAD keyword remote_gpu_bdf, positional, and older scripts' remote_gpu_idx


def _connect_server(peer, mem):
    ep = _p2p().Endpoint()
    peer.send(ep.get_metadata())
    for form in range(3):
        ok, _ip, _gpu, conn = ep.accept()
        assert ok, ep.last_error()
        buf = Buf(mem, 4096)
        mr = _reg(ep, buf)
        assert ep.recv(conn_id=conn, mr_id=mr, ptr=buf.ptr, size=4096) is True, ep.last_error()
        assert (buf.get() == pattern(4096, form)).all()
    finish(peer)
    return "ok"


def _connect_client(peer, mem):
    P = _p2p()
    ep = P.Endpoint()
    md = peer.recv()
    ip, port, bdf = P.Endpoint.parse_metadata(metadata=md)
    assert isinstance(bdf, str)
    conns = [ep.connect(remote_ip_addr=ip, remote_gpu_bdf=bdf, remote_port=port),
             ep.connect(ip, bdf, port),
             ep.connect(remote_ip_addr=ip, remote_gpu_idx=0, remote_port=port)]
    for form, (ok, conn) in enumerate(conns):
        assert ok is True and isinstance(conn, int), ep.last_error()
        buf = Buf(mem, 4096)
        buf.set(pattern(4096, form))
        mr = _reg(ep, buf)
        assert ep.send(conn_id=conn, mr_id=mr, ptr=buf.ptr, size=4096) is True, ep.last_error()
    finish(peer)
    return "ok"


def test_connect_keyword_forms(mem):
    assert run_pair(_connect_server, _connect_client, mem) == ("ok", "ok")


# ---- recv's size is a maximum (UCCL's test_engine_send registers 4 KiB, receives numel*8) ----


def _max_receiver(peer, mem):
    ep, conn = _serve(peer)
    region = Buf(mem, 8192, fill=0xAB)
    mr = _reg(ep, region, size=4096)  # only the first half is registered
    want = region.get()
    # 1. size 8192 from the start: the 4096 bytes inside the registration may be written.
    assert ep.recv(conn, mr, region.ptr, size=8192), ep.last_error()
    want[:4096] = pattern(4096, 1)
    assert (region.get() == want).all()
    # 2. From an offset: the room left is 3072 bytes.
    assert ep.recv(conn, mr, region.ptr + 1024, size=8192), ep.last_error()
    want[1024:4096] = pattern(3072, 2)
    assert (region.get() == want).all()
    # 3. A send larger than the room: refused, nothing written.
    assert ep.recv(conn, mr, region.ptr + 1024, size=8192) is False
    assert "larger than the recv buffer of 3072" in ep.last_error()
    assert (region.get() == want).all()
    # 4. The connection still works: async and vector forms with maxima too.
    ok, tid = ep.recv_async(conn_id=conn, mr_id=mr, ptr=region.ptr, size=1 << 20)
    assert ok, ep.last_error()
    _wait(ep, tid)
    want[:100] = pattern(100, 4)
    assert ep.recvv(conn_id=conn, mr_id_v=[mr, mr], data_ptr_v=[region.ptr, region.ptr + 2048],
                    size_v=[8192, 8192], num_iovs=2), ep.last_error()
    want[:2048], want[2048:4096] = pattern(2048, 5), pattern(2048, 6)
    assert (region.get() == want).all()
    peer.send("verified")
    finish(peer)
    return "ok"


def _max_sender(peer, mem):
    ep, conn = _dial(peer)
    src = Buf(mem, 4097)
    mr = _reg(ep, src)
    for size, seed in ((4096, 1), (3072, 2)):
        src.set(pattern(size, seed))
        assert ep.send(conn, mr, src.ptr, size), ep.last_error()
    src.set(pattern(4097, 3))
    assert ep.send(conn, mr, src.ptr, 3073) is False  # one byte over the receiver's room
    assert "larger than the recv buffer" in ep.last_error()
    src.set(pattern(100, 4))
    assert ep.send(conn, mr, src.ptr, 100), ep.last_error()
    src.set(pattern(2048, 5))
    src.set(pattern(2048, 6), offset=2048)
    assert ep.sendv(conn, [mr, mr], [src.ptr, src.ptr + 2048], [2048, 2048], 2), ep.last_error()
    peer.expect("verified")
    finish(peer)
    return "ok"


def test_recv_size_is_a_maximum(mem):
    assert run_pair(_max_receiver, _max_sender, mem) == ("ok", "ok")


# ---- two-sided calls (0.1.1) with UCCL's keywords ----


def _two_sided_receiver(peer, mem):
    ep, conn = _serve(peer)
    dst = Buf(mem, 6 * S)
    mr = _reg(ep, dst)
    p = dst.ptr
    assert ep.recv(conn_id=conn, mr_id=mr, ptr=p, size=S)
    ok, tid = ep.recv_async(conn_id=conn, mr_id=mr, ptr=p + S, size=S)
    assert ok, ep.last_error()
    _wait(ep, tid)
    assert ep.recvv(conn_id=conn, mr_id_v=[mr, mr], data_ptr_v=[p + 2 * S, p + 3 * S],
                    size_v=[S, S], num_iovs=2)
    ok, tid = ep.recvv_async(conn_id=conn, mr_id_v=[mr, mr], data_ptr_v=[p + 4 * S, p + 5 * S],
                             size_v=[S, S], num_iovs=2)
    assert ok, ep.last_error()
    _wait(ep, tid)
    assert (dst.get() == pattern(6 * S, 7)).all()
    peer.send("verified")
    finish(peer)
    return "ok"


def _two_sided_sender(peer, mem):
    ep, conn = _dial(peer)
    src = Buf(mem, 6 * S)
    src.set(pattern(6 * S, 7))
    mr = _reg(ep, src)
    p = src.ptr
    assert ep.send(conn_id=conn, mr_id=mr, ptr=p, size=S)
    ok, tid = ep.send_async(conn_id=conn, mr_id=mr, ptr=p + S, size=S)
    assert ok, ep.last_error()
    _wait(ep, tid)
    assert ep.sendv(conn_id=conn, mr_id_v=[mr, mr], data_ptr_v=[p + 2 * S, p + 3 * S],
                    size_v=[S, S], num_iovs=2)
    ok, tid = ep.sendv_async(conn_id=conn, mr_id_v=[mr, mr], data_ptr_v=[p + 4 * S, p + 5 * S],
                             size_v=[S, S], num_iovs=2)
    assert ok, ep.last_error()
    _wait(ep, tid)
    peer.expect("verified")
    finish(peer)
    return "ok"


def test_two_sided_calls(mem):
    assert run_pair(_two_sided_receiver, _two_sided_sender, mem) == ("ok", "ok")


# ---- one-sided calls, advertised in 0.1.1's form (with conn_id) and HEAD's (without) ----


def _advertise(ep, conn, mr, ptrs, form):
    """Blobs for [ptr, +S) each: advertise for the first, advertisev for the rest."""
    if form == "0.1.1":
        ok, first = ep.advertise(conn_id=conn, mr_id=mr, ptr=ptrs[0], size=S)
        ok2, rest = ep.advertisev(conn_id=conn, mr_id_v=[mr] * (len(ptrs) - 1), ptr_v=ptrs[1:],
                                  size_v=[S] * (len(ptrs) - 1), num_iovs=len(ptrs) - 1)
    else:
        ok, first = ep.advertise(mr_id=mr, ptr=ptrs[0], size=S)
        ok2, rest = ep.advertisev(mr_id_v=[mr] * (len(ptrs) - 1), ptr_v=ptrs[1:],
                                  size_v=[S] * (len(ptrs) - 1), num_iovs=len(ptrs) - 1)
    assert ok and ok2, ep.last_error()
    blobs = [first] + rest
    assert all(isinstance(b, bytes) and len(b) == 64 for b in blobs)
    return blobs


def _one_sided_target(peer, mem, form):
    ep, conn = _serve(peer)
    region = Buf(mem, 8 * S)
    region.set(pattern(2 * S, 8), offset=6 * S)  # slots 6, 7: what the peer reads
    mr = _reg(ep, region)
    peer.send(_advertise(ep, conn, mr, [region.ptr + i * S for i in range(8)], form))
    peer.expect("done")
    got = region.get()
    assert (got[:6 * S] == pattern(6 * S, 9)).all()
    assert (got[6 * S:] == pattern(2 * S, 8)).all()
    peer.send("verified")
    finish(peer)
    return "ok"


def _one_sided_initiator(peer, mem, form):
    ep, conn = _dial(peer)
    blobs = peer.recv()
    src = Buf(mem, 6 * S)
    src.set(pattern(6 * S, 9))
    dst = Buf(mem, 6 * S)
    smr, dmr = _reg(ep, src), _reg(ep, dst)
    s, d = src.ptr, dst.ptr
    assert ep.write(conn_id=conn, mr_id=smr, ptr=s, size=S, meta=blobs[0]) is True
    ok, tid = ep.write_async(conn_id=conn, mr_id=smr, ptr=s + S, size=S, meta=blobs[1])
    assert ok, ep.last_error()
    _wait(ep, tid)
    assert ep.writev(conn_id=conn, mr_id_v=[smr, smr], ptr_v=[s + 2 * S, s + 3 * S], size_v=[S, S],
                     meta_blob_v=blobs[2:4], num_iovs=2) is True
    ok, tid = ep.writev_async(conn_id=conn, mr_id_v=[smr, smr], ptr_v=[s + 4 * S, s + 5 * S],
                              size_v=[S, S], meta_blob_v=blobs[4:6], num_iovs=2)
    assert ok, ep.last_error()
    _wait(ep, tid)
    assert ep.read(conn_id=conn, mr_id=dmr, ptr=d, size=S, meta=blobs[6]) is True
    ok, tid = ep.read_async(conn_id=conn, mr_id=dmr, ptr=d + S, size=S, meta=blobs[7])
    assert ok, ep.last_error()
    _wait(ep, tid)
    assert ep.readv(conn_id=conn, mr_id_v=[dmr, dmr], ptr_v=[d + 2 * S, d + 3 * S], size_v=[S, S],
                    meta_blob_v=blobs[6:8], num_iovs=2) is True
    ok, tid = ep.readv_async(conn_id=conn, mr_id_v=[dmr, dmr], ptr_v=[d + 4 * S, d + 5 * S],
                             size_v=[S, S], meta_blob_v=blobs[6:8], num_iovs=2)
    assert ok, ep.last_error()
    _wait(ep, tid)
    assert (dst.get().reshape(3, 2 * S) == pattern(2 * S, 8)).all()  # slots 6-7, read 3 ways
    peer.send("done")
    peer.expect("verified")
    finish(peer)
    return "ok"


@pytest.mark.parametrize("form", ["0.1.1", "HEAD"])
def test_one_sided_calls(mem, form):
    assert run_pair(_one_sided_target, _one_sided_initiator, mem, form) == ("ok", "ok")


# ---- HEAD's Ray-style API: register_memory, descriptors, add_remote_endpoint, transfer ----


def _ray_server(peer, mem):
    P = _p2p()
    ep = P.Endpoint()
    assert ep.start_passive_accept() is True
    assert ep.start_passive_accept() is True  # idempotent
    peer.send(ep.get_metadata())
    target = Buf(mem, 4 * S)
    source = Buf(mem, 2 * S)
    source.set(pattern(2 * S, 11))
    descs = ep.register_memory(tensor_list=[target, source])
    assert [(d.addr, d.size) for d in descs] == [(target.ptr, 4 * S), (source.ptr, 2 * S)]
    assert all(d.mr_id != NO_MR and d.lkeys and len(d.lkeys) == len(d.rkeys) for d in descs)
    peer.send(ep.get_serialized_descs(desc_list=descs))
    peer.expect("written")
    assert (target.get() == pattern(4 * S, 10)).all()
    peer.send("verified")
    peer.expect("read")
    ep.deregister_memory(desc_list=[descs[0]])
    peer.send("deregistered")
    peer.expect("refused")
    assert (target.get() == pattern(4 * S, 10)).all(), "a write into a deregistered region landed"
    finish(peer)
    return "ok"


def _ray_client(peer, mem):
    P = _p2p()
    ep = P.Endpoint()
    md = peer.recv()
    ok, conn = ep.add_remote_endpoint(metadata_bytes=md)
    assert ok, ep.last_error()
    assert ep.add_remote_endpoint(md) == (True, conn)  # one connection per remote endpoint
    target, source = ep.deserialize_descs(serialized_bytes=peer.recv())
    assert target.mr_id == NO_MR  # mr_id is the owner's, not serialized
    src = Buf(mem, 4 * S)
    src.set(pattern(4 * S, 10))
    dst = Buf(mem, 2 * S)
    (lsrc,) = ep.register_memory([src])
    # write: one descriptor pair.
    ok, tid = ep.transfer(conn_id=conn, op_name="write", local_desc_list=[lsrc],
                          remote_desc_list=[target])
    assert ok, ep.last_error()
    _wait(ep, tid)
    peer.send("written")
    peer.expect("verified")
    # read: two pairs, the remote ones describing halves of a registered region (built here, as
    # callers do, from a deserialized descriptor), the local ones parts of one registered buffer.
    halves = []
    for i in range(2):
        h = P.XferDesc()
        h.addr, h.size, h.lkeys, h.rkeys = source.addr + i * S, S, source.lkeys, source.rkeys
        halves.append(h)
    local = ep.register_memory([dst.view(S, S), dst.view(0, S)])  # swapped: proves the pairing
    ok, tid = ep.transfer(conn, "read", local, halves)
    assert ok, ep.last_error()
    _wait(ep, tid)
    want = pattern(2 * S, 11)
    assert (dst.get()[S:] == want[:S]).all() and (dst.get()[:S] == want[S:]).all()
    ep.deregister_memory(local)
    peer.send("read")
    # remove_remote_endpoint: once True, then False; transfer on it raises as UCCL does.
    assert ep.remove_remote_endpoint(conn_id=conn) is True
    assert ep.remove_remote_endpoint(conn) is False
    with pytest.raises(RuntimeError, match="Invalid conn_id"):
        ep.transfer(conn, "write", [lsrc], [target])
    ok, conn2 = ep.add_remote_endpoint(md)
    assert ok and conn2 != conn, ep.last_error()
    # A write into a region the owner deregistered: accepted locally, refused by the peer.
    peer.expect("deregistered")
    src.set(pattern(4 * S, 12))
    ok, tid = ep.transfer(conn2, "write", [lsrc], [target])
    assert ok, ep.last_error()
    _wait(ep, tid, expect_ok=False)
    assert "refused" in ep.last_error()
    peer.send("refused")
    finish(peer)
    return "ok"


def test_ray_api_transfer(mem):
    assert run_pair(_ray_server, _ray_client, mem) == ("ok", "ok")


# ---- one process ----


def test_every_uccl_call_exists(core):
    missing = [n for n in UCCL_CALLS if not callable(getattr(core.Endpoint, n, None))]
    assert not missing
    for name in ("XferDesc", "XferHandle", "FloatType", "get_oob_ip", "MetadataError"):
        assert hasattr(core, name), name
    assert set(core.__all__) >= {"Endpoint", "XferDesc", "XferHandle", "FloatType", "get_oob_ip"}
    assert {"conn_id", "op_name", "transfer_id"} <= set(dir(core.XferHandle))


def test_endpoint_construction(core):
    P = core
    ep = P.Endpoint()  # GPU chosen on first use; host-only on a machine without GPUs
    assert "Endpoint" in repr(ep)
    P.Endpoint.parse_metadata(ep.get_metadata())
    assert P.Endpoint(local_gpu_idx=-1).info["gpu_index"] == -1
    with pytest.raises(RuntimeError, match=r"no GPU 4096: this machine has \d+ GPU"):
        P.Endpoint(4096)
    with pytest.raises(RuntimeError, match=r"no GPU 4096"):
        P.Endpoint(local_gpu_idx=4096)


def test_malformed_metadata_raises_as_uccl(core):
    ep = core.Endpoint()
    for bad in (b"", b"\x7f\x00\x00", b"\x7f\x00\x00\x01\x00\x01\x09abc"):
        with pytest.raises(RuntimeError, match="parse_metadata"):  # UCCL's type
            core.Endpoint.parse_metadata(bad)
        with pytest.raises(ValueError):  # what this project raised before
            core.Endpoint.parse_metadata(bad)
        with pytest.raises(core.MetadataError, match="add_remote_endpoint"):
            ep.add_remote_endpoint(bad)


def test_register_memory_reuses_keys_inside_a_live_region(core):
    """UCCL's registration cache: a buffer inside a registered one gets its keys; each call still
    returns its own mr_id; the region lives while any of its descriptors does."""
    import numpy as np

    ep = core.Endpoint()
    base, elsewhere = np.zeros(16384, dtype=np.uint8), np.zeros(4096, dtype=np.uint8)
    whole = Buf.at("host", base.ctypes.data, base.nbytes)
    sub = whole.view(1024, 4096)
    d1 = ep.register_memory([whole])[0]
    d2, d3 = ep.register_memory([whole, sub])
    assert len({d1.mr_id, d2.mr_id, d3.mr_id}) == 3
    assert d1.rkeys == d2.rkeys == d3.rkeys and d1.lkeys == d1.rkeys and len(d1.rkeys) == 16
    assert (d3.addr, d3.size) == (whole.ptr + 1024, 4096)
    ep.deregister_memory([d1])
    d4 = ep.register_memory([sub])[0]
    assert d4.rkeys == d1.rkeys, "the region must outlive its first descriptor"
    d5 = ep.register_memory([Buf.at("host", elsewhere.ctypes.data, elsewhere.nbytes)])[0]
    assert d5.rkeys and d5.rkeys != d1.rkeys
    ep.deregister_memory([d2, d3, d4, d5])
    # Everything was given back: the engine no longer knows these mr_ids.
    assert all(ep.dereg(d.mr_id) is False for d in (d1, d2, d3, d4, d5))
    assert ep.register_memory([]) == []
    d6 = ep.register_memory([whole])[0]
    assert d6.rkeys != d1.rkeys  # a new region, a new advertisement
    part = ep.register_memory([whole.view(8192, 8192)])[0]
    assert part.rkeys == d6.rkeys
    ep.deregister_memory([d6, part])
    a, b = ep.register_memory([whole.view(0, 4096), whole.view(3072, 4096)])  # partial overlap
    assert a.rkeys != b.rkeys
    ep.deregister_memory([a, b])


def test_register_memory_refuses_non_tensors(core):
    ep = core.Endpoint()
    with pytest.raises(RuntimeError, match="Object at index 0 is not a tensor"):
        ep.register_memory([123])
    with pytest.raises(RuntimeError, match="Object at index 1 is not a tensor"):
        ep.register_memory([Buf("host", 16), "not a tensor"])
    # A registration the engine refuses: UCCL's fallback descriptor, no keys.
    (d,) = ep.register_memory([Buf.at("host", 0, 16)])
    assert (d.mr_id, d.lkeys, d.rkeys) == (NO_MR, [], [])
    assert "register_memory" in ep.last_error()


def test_descriptor_bytes(core):
    P = core
    ep = P.Endpoint()
    d = P.XferDesc()
    d.addr, d.size, d.mr_id, d.lkeys, d.rkeys = 0x1000, 4096, 7, [1, 2], [3, 4]
    assert (d["addr"], d["size"], d["mr_id"], d["lkeys"], d["rkeys"]) == (0x1000, 4096, 7, [1, 2], [3, 4])
    assert "rkeys" in d and "other" not in d
    with pytest.raises(KeyError):
        d["other"]
    blob = ep.get_serialized_descs([d, d])
    # UCCL's layout: count, then addr, size, key count, lkeys, rkeys, ipc length (native order).
    one = struct.pack("=QQQ2I2IQ", 0x1000, 4096, 2, 1, 2, 3, 4, 0)
    assert blob == struct.pack("=Q", 2) + one + one
    back = ep.deserialize_descs(blob)
    assert back == [d, d] and back[0].mr_id == NO_MR  # equal: same region and keys
    assert ep.deserialize_descs(ep.get_serialized_descs([])) == []
    assert ep.deserialize_descs(b"") == []
    older = struct.pack("=QQQQ2I2I", 1, 0x1000, 4096, 2, 1, 2, 3, 4)  # no ipc length
    assert ep.deserialize_descs(older) == [d]
    bad = {
        "truncated": blob[:-1],
        "huge count": struct.pack("=Q", 2**60) + one,
        "huge key count": struct.pack("=QQQQ", 1, 0, 0, 2**62),
        "huge ipc length": struct.pack("=QQQQQ", 1, 0, 0, 0, 2**40),
        "trailing bytes": blob + b"\0",
    }
    for name, data in bad.items():
        with pytest.raises(RuntimeError, match="Invalid serialized XferDesc data"):
            ep.deserialize_descs(data)
    with pytest.raises(TypeError):
        ep.get_serialized_descs([object()])


def test_transfer_argument_errors_raise(core):
    ep = core.Endpoint()
    (l,) = ep.register_memory([Buf("host", 4096)])
    r = ep.deserialize_descs(ep.get_serialized_descs([l]))[0]
    with pytest.raises(RuntimeError, match="Invalid op_name: WRITE"):
        ep.transfer(1, "WRITE", [l], [r])
    with pytest.raises(RuntimeError, match="must have the same size"):
        ep.transfer(1, "write", [l], [])
    with pytest.raises(RuntimeError, match="Invalid conn_id 1"):
        ep.transfer(1, "write", [l], [r])
    assert ep.conn_id_of_rank(0) == ep.conn_id_of_rank(rank=5) == NO_MR
    ep.deregister_memory([l])


def test_ipc_calls_take_uccls_keywords(core):
    """The same-host CUDA IPC family: UCCL's names and keywords (test_ipc.py tests what they do).
    UCCL 0.1.1's two-sided send_ipc / recv_ipc raise NotImplementedError (a RuntimeError)."""
    ep = core.Endpoint()
    calls = {
        "send_ipc": dict(conn_id=1, ptr=0, size=8),
        "recv_ipc_async": dict(conn_id=1, ptr=0, size=8),
    }
    for name, kwargs in calls.items():
        with pytest.raises(NotImplementedError, match=f"{name}: UCCL 0.1.1's two-sided IPC"):
            getattr(ep, name)(**kwargs)
    assert issubclass(NotImplementedError, RuntimeError)  # scripts catching UCCL's type catch it
    assert ep.advertise_ipc(conn_id=1, ptr=0, size=8)[0] is False
    assert ep.write_ipc(conn_id=1, ptr=0, size=8, info=b"\0" * 128) is False
    assert ep.readv_ipc_async(conn_id=1, ptr_v=[0], size_v=[8], info_v=[b"\0" * 128]) == (False, 0)
