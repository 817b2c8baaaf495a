"""The patches of every HTTP stack, installed while at least one block is open (a refcount).

httpx (and httpx2 when installed) is patched at block entry. The other stacks (aiohttp,
urllib3 and so requests) are patched when they are installed and imported: at block entry if
they already are, otherwise the moment they are imported while a block is open (an import hook),
so a process that never imports aiohttp does not pay for importing it. Each patched seam asks
:meth:`Patcher.resolve` for the block a request belongs to and hands the request to it; outside
every block the originals run.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from streamtape._httpx_compat import installed
from streamtape._stacks import StackPatch
from streamtape.errors import StreamtapeError

__all__ = ["HttpxStack", "Patcher"]


class HttpxStack:
    """The patch of httpx (and httpx2 when installed): their transports' request methods.

    A request goes to the block's ``_handle`` / ``_ahandle`` with the original method bound to
    its transport, so recording sends through the real transport."""

    name = "httpx"
    _SYNC = ("HTTPTransport", "handle_request")
    _ASYNC = ("AsyncHTTPTransport", "handle_async_request")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._originals: dict[tuple[str, str], Any] = {}  # (module, class) -> original function

    @staticmethod
    def libraries() -> list[ModuleType]:
        """httpx, and httpx2 when it is installed."""
        return installed()

    def install(self, resolve: Callable[[Any], Any]) -> None:
        with self._lock:
            for lib in self.libraries():
                self._patch(lib, resolve)

    def uninstall(self) -> None:
        with self._lock:
            for (module, cls_name), original in self._originals.items():
                cls = getattr(importlib.import_module(module), cls_name)
                setattr(cls, self._method(cls_name), original)
            self._originals.clear()

    @classmethod
    def _method(cls, cls_name: str) -> str:
        return cls._SYNC[1] if cls_name == cls._SYNC[0] else cls._ASYNC[1]

    def _patch(self, lib: ModuleType, resolve: Callable[[Any], Any]) -> None:
        sync_cls = getattr(lib, self._SYNC[0])
        async_cls = getattr(lib, self._ASYNC[0])
        sync_original = sync_cls.__dict__[self._SYNC[1]]
        async_original = async_cls.__dict__[self._ASYNC[1]]
        self._originals[(lib.__name__, self._SYNC[0])] = sync_original
        self._originals[(lib.__name__, self._ASYNC[0])] = async_original

        @functools.wraps(sync_original)
        def handle_request(transport: Any, request: Any) -> Any:
            tape = resolve(request)
            if tape is None:
                return sync_original(transport, request)
            return tape._handle(request, functools.partial(sync_original, transport))

        @functools.wraps(async_original)
        async def handle_async_request(transport: Any, request: Any) -> Any:
            tape = resolve(request)
            if tape is None:
                return await async_original(transport, request)
            return await tape._ahandle(request, functools.partial(async_original, transport))

        setattr(sync_cls, self._SYNC[1], handle_request)
        setattr(async_cls, self._ASYNC[1], handle_async_request)

    def original(self, lib: ModuleType, asynchronous: bool) -> Any:
        """The unpatched method of ``lib`` (whether or not a block is active)."""
        cls_name, method = self._ASYNC if asynchronous else self._SYNC
        with self._lock:
            found = self._originals.get((lib.__name__, cls_name))
        return found if found is not None else getattr(getattr(lib, cls_name), method)


def _stack(module: str) -> StackPatch:
    """The patch of the stack whose top-level module is ``module``."""
    if module == "aiohttp":
        from streamtape._aiohttp import AiohttpStack

        return AiohttpStack()
    from streamtape._urllib3 import Urllib3Stack

    return Urllib3Stack()


_LAZY_STACKS = ("aiohttp", "urllib3")


class _Loaded(importlib.abc.Loader):
    """Loads a module as its own loader would, then tells the patcher it is there."""

    def __init__(self, loader: importlib.abc.Loader, done: Callable[[str], None]) -> None:
        self._loader = loader
        self._done = done

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._done(module.__name__)

    def __getattr__(self, name: str) -> Any:  # resource readers and the like
        return getattr(self._loader, name)


class _ImportWatch(importlib.abc.MetaPathFinder):
    """Finds the stacks' top-level modules as the other finders do, with a loader that patches
    the stack once the module has run."""

    def __init__(self, done: Callable[[str], None]) -> None:
        self._done = done
        self._local = threading.local()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _LAZY_STACKS or getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._local.busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loaded(spec.loader, self._done)
        return spec


class Patcher:
    """Installs every stack's patch while at least one block is active.

    ``active`` is the ContextVar holding the block in force in this context."""

    def __init__(self, active: contextvars.ContextVar[Any]) -> None:
        self._lock = threading.RLock()
        self._active = active
        self._open: list[Any] = []  # active blocks, oldest first
        self.httpx = HttpxStack()
        self._installed: dict[str, StackPatch] = {}
        self._watch: _ImportWatch | None = None

    def acquire(self, tape: Any) -> None:
        with self._lock:
            self._open.append(tape)
            if len(self._open) > 1:
                return
            self.httpx.install(self.resolve)
            for module in _LAZY_STACKS:
                if module in sys.modules:
                    self._install(module)
            self._watch = _ImportWatch(self._imported)
            sys.meta_path.insert(0, self._watch)

    def release(self, tape: Any) -> None:
        with self._lock:
            self._open.remove(tape)
            if self._open:
                return
            if self._watch is not None:
                sys.meta_path.remove(self._watch)
                self._watch = None
            self.httpx.uninstall()
            for stack in reversed(self._installed.values()):
                stack.uninstall()
            self._installed.clear()

    def _install(self, module: str) -> None:
        stack = _stack(module)
        stack.install(self.resolve)
        self._installed[module] = stack

    def _imported(self, module: str) -> None:
        """A stack was imported: patch it if a block is still open."""
        with self._lock:
            if self._open and module not in self._installed:
                self._install(module)

    def resolve(self, request: Any) -> Any:
        """The block in force for ``request``: this context's, else :meth:`owner`'s."""
        tape = self._active.get()
        return tape if tape is not None else self.owner(request)

    def owner(self, request: Any) -> Any:
        """The block for a request made where none is in force (a thread a block started).

        The innermost block when the open ones are nested in one another (one chain); None
        when no block is open; an error when open blocks are not nested, as in two threads or
        tasks with a block each: which one the request belongs to cannot be told.
        """
        with self._lock:
            open_ = list(self._open)
        if not open_:
            return None
        parents = {id(tape._parent) for tape in open_}
        leaves = [tape for tape in open_ if id(tape) not in parents]
        if len(leaves) == 1:
            return leaves[0]
        raise StreamtapeError(
            f"{request.method} {request.url} was sent where no use_cassette block is in force "
            f"(a thread started inside a block does not inherit it) while {len(leaves)} separate "
            f"blocks are open ({', '.join(str(t.path) for t in leaves)}); open use_cassette in "
            "that thread, or start it with contextvars.copy_context().run"
        )

    def original(self, lib: ModuleType, asynchronous: bool) -> Any:
        """The unpatched httpx method of ``lib`` (whether or not a block is active)."""
        return self.httpx.original(lib, asynchronous)
