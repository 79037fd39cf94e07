"""``from uccl import p2p`` without UCCL: a fallback import hook.

The wheel ships ``tcpx_p2p_uccl_compat.pth``, which calls :func:`install` at interpreter start-up.
That puts a finder at the end of ``sys.meta_path`` which answers for ``uccl`` (a stand-in
package) and ``uccl.p2p`` (a module forwarding to ``tcpx_p2p``) only when no other finder can find
a real ``uccl``: an installed UCCL always wins, and nothing named ``uccl`` is ever installed.

Set ``TCPX_P2P_NO_UCCL_COMPAT=1`` to turn the hook off. This module must stay cheap to import
(no importlib.abc, no threading: tens of milliseconds at every start-up) and must not import
the compiled ``tcpx_p2p._core`` (that happens on ``import uccl.p2p``).
"""

import _thread
import importlib
import importlib.machinery
import os
import sys

DISABLE_ENV = "TCPX_P2P_NO_UCCL_COMPAT"
_PACKAGE = "uccl"
_MODULE = "uccl.p2p"


class UcclCompatFinder:
    """Provides ``uccl`` / ``uccl.p2p`` from ``target`` (a module name) as a last resort."""

    def __init__(self, target="tcpx_p2p"):
        self.target = target
        self._asking = set()  # ids of the threads now asking the other finders

    def find_spec(self, fullname, path=None, target=None):
        if _thread.get_ident() in self._asking:
            return None
        if fullname == _PACKAGE:
            if self._found_elsewhere(fullname, path, target):
                return None
            return importlib.machinery.ModuleSpec(fullname, _ShimPackageLoader(self), is_package=True)
        if fullname == _MODULE and _is_shim(sys.modules.get(_PACKAGE)):
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(self.target))
        return None

    def _found_elsewhere(self, fullname, path, target):
        """True when another finder on sys.meta_path can find ``fullname``."""
        me = _thread.get_ident()
        self._asking.add(me)
        try:
            for finder in list(sys.meta_path):
                if finder is self or isinstance(finder, UcclCompatFinder):
                    continue
                find_spec = getattr(finder, "find_spec", None)
                if find_spec is None:
                    continue
                try:
                    if find_spec(fullname, path, target) is not None:
                        return True
                except (ImportError, ValueError, TypeError, AttributeError):
                    continue
            return False
        finally:
            self._asking.discard(me)

    def invalidate_caches(self):
        pass


def _is_shim(module):
    return getattr(module, "__tcpx_p2p_shim__", False) is True


class _ShimPackageLoader:
    """The stand-in ``uccl`` package: empty, marked as ours, with ``p2p`` loaded on access."""

    def __init__(self, finder):
        self._finder = finder

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__tcpx_p2p_shim__ = True
        module.__doc__ = f"Stand-in for UCCL provided by {self._finder.target} (no real uccl is installed)."
        module.__path__ = []  # a package with no folder: its submodules come from our finder only

        def __getattr__(name):
            if name == "p2p":
                return importlib.import_module(_MODULE)
            if name == "__version__":  # UCCL's package has one: here, the provider's version
                return importlib.import_module(self._finder.target).__version__
            raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}")

        module.__getattr__ = __getattr__


class _AliasLoader:
    """``uccl.p2p``: a module whose public names are those of the target module."""

    def __init__(self, target):
        self._target = target

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        target = importlib.import_module(self._target)
        load_core = getattr(target, "_load_core", None)
        if load_core is not None:
            load_core()  # a module that was not built fails here, at import time
        public = [n for n in dir(target) if not n.startswith("_")]
        for name in public:
            setattr(module, name, getattr(target, name))
        module.__all__ = list(getattr(target, "__all__", public))
        module.__doc__ = target.__doc__
        module.__tcpx_p2p_alias_of__ = self._target

        def __getattr__(name):
            return getattr(target, name)

        module.__getattr__ = __getattr__


def install(target="tcpx_p2p"):
    """Appends the finder to sys.meta_path (once). Returns it, or None when disabled."""
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return None
    for finder in sys.meta_path:
        if isinstance(finder, UcclCompatFinder):
            return finder
    finder = UcclCompatFinder(target)
    sys.meta_path.append(finder)
    return finder


def uninstall():
    """Removes the finder (the modules it already provided stay in sys.modules)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, UcclCompatFinder)]
