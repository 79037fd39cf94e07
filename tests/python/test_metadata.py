"""Endpoint construction, module surface and the get_metadata / parse_metadata wire format."""

import os
import socket
import struct

import pytest

from p2p_harness import Peer, dial, listen, run_pair  # noqa: F401 - Peer: side signature

UCCL_ENDPOINT_METHODS = [
    "get_metadata", "parse_metadata", "connect", "accept", "reg", "regv", "dereg", "advertise",
    "advertisev", "write", "read", "write_async", "read_async", "writev", "readv", "writev_async",
    "readv_async", "send", "recv", "send_async", "recv_async", "sendv", "recvv", "sendv_async",
    "recvv_async", "poll_async",
]


def test_module_surface(core):
    for name in UCCL_ENDPOINT_METHODS:
        assert callable(getattr(core.Endpoint, name)), name
    members = ["kUndefined", "kFloat16", "kBFloat16", "kFloat32", "kFloat8E4M3FN", "kFloat8E5M2"]
    assert [m.name for m in core.FloatType] == members
    ip = core.get_oob_ip()
    socket.inet_aton(ip)  # a dotted IPv4 address


def test_endpoint_without_argument_is_host_only_without_gpus(core):
    try:
        core.Endpoint(0).info
    except RuntimeError as e:
        assert "no GPU 0" in str(e)
    else:
        pytest.skip("this machine has a GPU: Endpoint() chooses one on first use (test_uccl_surface)")
    ep = core.Endpoint()
    assert ep.info["gpu_index"] == -1
    assert ep.info["bdf"] == ""
    assert core.Endpoint(-1).info["gpu_index"] == -1
    assert core.Endpoint(local_gpu_idx=-1, num_cpus=4).info["port"] > 0
    assert "Endpoint" in repr(ep)


def test_reg_accepts_float_type(core):
    import numpy as np

    ep = core.Endpoint()
    buf = np.zeros(4096, dtype=np.uint8)
    for ft in (core.FloatType.kBFloat16, core.kFloat32, 0):
        ok, mr = ep.reg(buf.ctypes.data, buf.nbytes, ft)
        assert ok and ep.dereg(mr)
    ok, mr = ep.reg(buf.ctypes.data, buf.nbytes, floatType=core.FloatType.kFloat16)
    assert ok and ep.dereg(mr)


def test_constructor_failure_raises(core):
    taken = socket.socket()
    taken.bind(("0.0.0.0", 0))
    taken.listen()
    os.environ["UCCL_TCPX_BOOTSTRAP_PORT_BASE"] = str(taken.getsockname()[1])
    try:
        with pytest.raises(RuntimeError, match="control port"):
            core.Endpoint(-1)
    finally:
        del os.environ["UCCL_TCPX_BOOTSTRAP_PORT_BASE"]
        taken.close()


def test_metadata_wire_format_ipv4(core):
    ep = core.Endpoint()
    md = ep.get_metadata()
    assert isinstance(md, bytes)
    ip, port, bdf = core.Endpoint.parse_metadata(md)
    assert (ip, port, bdf) == (ep.info["ip"], ep.info["port"], ep.info["bdf"])
    # IPv4 (4) + port (u16, network order) + bdf_len (u8) + BDF
    assert len(md) == 4 + 2 + 1 + len(bdf)
    assert md[:4] == socket.inet_aton(ip)
    assert md[4:6] == struct.pack("!H", port)
    assert md[6] == len(bdf)
    assert md[7:] == bdf.encode()


@pytest.mark.parametrize(
    "ip,family,bdf",
    [("10.1.2.3", socket.AF_INET, "0000:4a:00.0"), ("fe80::1", socket.AF_INET6, "0000:4a:00.0"),
     ("2001:db8::7", socket.AF_INET6, "")],
)
def test_parse_metadata_formats(core, ip, family, bdf):
    md = socket.inet_pton(family, ip) + struct.pack("!HB", 40123, len(bdf)) + bdf.encode()
    assert core.Endpoint.parse_metadata(md) == (ip, 40123, bdf)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x7f\x00\x00\x01\x13", b"\x7f\x00\x00\x01\x13\x88\x05abc", b"\x7f\x00\x00\x01\x13\x88\x00extra"],
    ids=["empty", "short", "bdf-truncated", "trailing"],
)
def test_parse_metadata_rejects_malformed(core, blob):
    with pytest.raises(ValueError, match="parse_metadata"):
        core.Endpoint.parse_metadata(blob)


def _server_accepts_two(peer):
    ep, conn1 = listen(peer)
    ok, _ip, _gpu, conn2 = ep.accept()
    assert ok, ep.last_error()
    assert conn1 != conn2
    peer.send("accepted two")
    return "accepted two"


def _client_connects_two_ways(peer):
    import tcpx_p2p as p2p

    md = peer.recv()
    ep = p2p.Endpoint()
    ok, c1 = ep.connect(md)  # connect(metadata bytes)
    assert ok, ep.last_error()
    ip, port, _ = p2p.Endpoint.parse_metadata(md)
    ok, c2 = ep.connect(ip, "0000:00:00.0", remote_port=port)  # remote GPU as a BDF string
    assert ok, ep.last_error()
    assert c1 != c2
    ok, conn = ep.connect(md[:3])  # malformed metadata: ok=False, never a crash
    assert (ok, conn) == (False, 0)
    assert "metadata" in ep.last_error()
    # Stay connected until the server has accepted both: a connection whose connector goes away
    # before the acceptor's side of the handshake is done never reaches accept().
    peer.expect("accepted two")
    return "connected twice"


def test_connect_from_metadata(core):
    assert run_pair(_server_accepts_two, _client_connects_two_ways) == ("accepted two", "connected twice")


def test_connect_refused_returns_false(core):
    ep = core.Endpoint()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    ok, conn = ep.connect("127.0.0.1", 0, port)
    assert (ok, conn) == (False, 0)
    assert "connect" in ep.last_error()
