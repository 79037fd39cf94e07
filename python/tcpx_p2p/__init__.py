"""tcpx-p2p: a P2P transfer engine over GPUDirect-TCPX or plain TCP.

A drop-in for the UCCL P2P engine (``from uccl import p2p``, release 0.1.1)::

    import tcpx_p2p as p2p
    ep = p2p.Endpoint(local_gpu_idx)          # or Endpoint() / Endpoint(-1): host memory only
    ok, conn_id = ep.connect(ip, remote_gpu, remote_port)

Failures return False / (False, ...) like UCCL, and ``Endpoint.last_error()`` says why.

The compiled part is ``tcpx_p2p._core``. It is loaded on first use of a public name, so that
importing this package stays cheap: the ``uccl`` compatibility hook (``_uccl_compat``) is
imported at every interpreter start-up from a ``.pth`` file. In a build tree,
``<build>/python/tcpx_p2p`` holds ``_core`` and links to these sources.
"""

import importlib as _importlib

__all__ = ["Endpoint", "FloatType", "get_oob_ip"]

_core_module = None


def _load_core():
    """Imports tcpx_p2p._core (the nanobind module) and returns it."""
    global _core_module
    if _core_module is None:
        _core_module = _importlib.import_module(__name__ + "._core")
    return _core_module


def __getattr__(name):
    """Public names come from _core, imported on first use (PEP 562)."""
    if not name.startswith("_"):
        core = _load_core()
        if hasattr(core, name):
            value = getattr(core, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    names = set(globals()) | set(__all__)
    try:
        names |= {n for n in dir(_load_core()) if not n.startswith("_")}
    except ImportError:
        pass
    return sorted(names)
