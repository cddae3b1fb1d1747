"""Servers and services: the receiving side of an RPC.

Go's labrpc finds handlers by reflection: exported methods taking (args,
*reply).  Python has no pointer types, so a handler is a public method
`Name(self, args: ArgsT, reply: ReplyT)` and its annotations tell labrpc
which reply to build.  A reply crosses the network through labgob and is
copied into the caller's object, as Go decodes into the caller's pointer.

Go's labrpc takes as handlers the methods shaped (args, *reply) that return
nothing, and skips the rest.  Here a handler is a public method with two
annotated parameters, the second a class, that returns None (or has no return
annotation).  Anything else is skipped, so a helper such as
`sendRequestVote(self, server: int, args: RequestVoteArgs) -> bool` never
stops MakeService.  A method that may be a handler written wrong (its
annotations forgotten or unresolvable, a reply class that needs arguments)
is skipped too, and a Call to it raises the reason and how to fix it.
"""

from __future__ import annotations

import inspect
import threading
import typing
import weakref
from collections.abc import Callable
from typing import Any

import labgob
from labgob.registry import info_for_class


class LabrpcError(Exception):
    """A mistake in how labrpc is used: Go's labrpc would log.Fatalf here."""


class _Method:
    __slots__ = ("func", "args_type", "reply_type")

    def __init__(self, func: Callable[[Any, Any], None], args_type: Any, reply_type: type) -> None:
        self.func = func
        self.args_type = args_type if isinstance(args_type, type) else None
        self.reply_type = reply_type


def _register(cls: Any) -> None:
    if isinstance(cls, type) and cls.__module__ != "builtins" and info_for_class(cls) is None:
        labgob.Register(cls)


def _examine(cls: type, name: str, func: Callable[..., Any]) -> tuple[Any, type] | str | None:
    """(args type, reply type) if func is a handler of cls; a reason, with how to fix it,
    if it may be a handler written wrong; None if it is some other method."""
    params = list(inspect.signature(func).parameters.values())[1:]
    if len(params) != 2 or any(
        p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params
    ):
        return None
    where = f"{cls.__name__}.{name}(self, {params[0].name}, {params[1].name})"
    try:
        hints = typing.get_type_hints(func)
    except Exception as e:
        return f"labrpc: cannot resolve the annotations of {where}: {e}"
    if hints.get("return", type(None)) is not type(None):
        return None  # returns something: a helper, as in Go
    args_type = hints.get(params[0].name)
    reply_type = hints.get(params[1].name)
    if args_type is None or reply_type is None:
        return (
            f"labrpc: {where} is not fully annotated, so labrpc cannot tell which reply "
            f"to build and does not treat it as an RPC handler. Write it as "
            f"def {name}(self, {params[0].name}: ArgsType, "
            f"{params[1].name}: ReplyType) -> None"
        )
    if not isinstance(reply_type, type) or reply_type.__module__ == "builtins":
        return None
    try:
        reply_type()
    except TypeError as e:
        return (
            f"labrpc: the reply type {reply_type.__qualname__} of {where} must be "
            f"constructible with no arguments (give every field a default): {e}"
        )
    return args_type, reply_type


def _methods(cls: type) -> list[tuple[str, Callable[..., Any]]]:
    return [
        (name, func)
        for name, func in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    ]


_Examined = dict[str, "tuple[Any, type] | str | None"]
_examined_mu = threading.Lock()
# cls -> (its public methods, what _examine said of each); guarded by _examined_mu.
_examined: weakref.WeakKeyDictionary[type, tuple[list[Any], _Examined]] = (
    weakref.WeakKeyDictionary()
)


def _examine_all(cls: type) -> _Examined:
    """_examine of each public method of cls, remembered while its methods stay the
    same: resolving annotations takes milliseconds, and a tester starts a class's
    Raft again at every restart (each sealed host asks three times)."""
    methods = _methods(cls)
    with _examined_mu:
        known = _examined.get(cls)
    if known is not None and known[0] == methods:
        return known[1]
    found = {name: _examine(cls, name, func) for name, func in methods}
    with _examined_mu:
        _examined[cls] = (methods, found)
    return found


def handler_types(cls: type) -> dict[str, tuple[Any, type]]:
    """cls's handlers, as MakeService finds them: name -> (args type, reply type)."""
    return {name: types for name, types in _examine_all(cls).items() if isinstance(types, tuple)}


def register_handler_types(cls: type) -> None:
    """Register the args and reply classes of cls's handlers with labgob, as
    MakeService does; the tester calls it before Make() starts a peer's threads,
    so their first Call never finds these classes unregistered."""
    for args_type, reply_type in handler_types(cls).values():
        _register(args_type)
        _register(reply_type)


class Service:
    """An object whose handler methods can be called over the network."""

    def __init__(self, rcvr: Any) -> None:
        self.name = type(rcvr).__name__
        self.rcvr = rcvr
        self.methods: dict[str, _Method] = {}
        # Methods that may be handlers written wrong: name -> why not, and how to fix it.
        self.refused: dict[str, str] = {}
        for name, found in _examine_all(type(rcvr)).items():
            if isinstance(found, str):
                self.refused[name] = found
            elif found is not None:
                args_type, reply_type = found
                _register(args_type)
                _register(reply_type)
                self.methods[name] = _Method(getattr(rcvr, name), args_type, reply_type)

    def dispatch(self, meth_name: str, svc_meth: str, args_bytes: bytes) -> bytes:
        method = self.methods.get(meth_name)
        if method is None:
            if meth_name in self.refused:
                raise LabrpcError(self.refused[meth_name])
            raise LabrpcError(
                f"labrpc: unknown method {meth_name} in {svc_meth}; "
                f"expecting one of {sorted(self.methods)}"
            )
        args = labgob.decode(args_bytes)
        if method.args_type is not None and not isinstance(args, method.args_type):
            raise LabrpcError(
                f"labrpc: {svc_meth} takes {method.args_type.__qualname__} arguments, "
                f"but Call was given {type(args).__qualname__}"
            )
        reply = method.reply_type()
        method.func(args, reply)
        return labgob.encode(reply)


class Server:
    """A collection of services sharing one network name, e.g. Raft and a k/v server."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._services: dict[str, Service] = {}  # guarded by _mu
        self._count = 0  # incoming RPCs; guarded by _mu

    def AddService(self, svc: Service) -> None:
        with self._mu:
            self._services[svc.name] = svc

    def dispatch(self, svc_meth: str, args_bytes: bytes) -> bytes:
        """Run the named handler on encoded args and return the encoded reply."""
        service_name, _, meth_name = svc_meth.rpartition(".")
        with self._mu:
            self._count += 1
            service = self._services.get(service_name)
            if service is None:
                choices = sorted(self._services)
        if service is None:
            raise LabrpcError(
                f"labrpc: unknown service {service_name!r} in {svc_meth!r}; "
                f"expecting one of {choices}"
            )
        return service.dispatch(meth_name, svc_meth, args_bytes)

    def GetCount(self) -> int:
        with self._mu:
            return self._count

    def why_args_cannot_go(self, svc_meth: str, args: Any, error: Exception) -> str:
        """Why a Call to svc_meth could not encode args, and how to fix it: the
        method's own refusal if it is a handler written wrong (that comes first),
        else the ways to get the unregistered class registered."""
        service_name, _, meth_name = svc_meth.rpartition(".")
        with self._mu:
            service = self._services.get(service_name)
        if service is not None and meth_name in service.refused:
            return service.refused[meth_name]
        method = service.methods.get(meth_name) if service is not None else None
        cls = type(args)
        prefix = f"labrpc: Call({svc_meth!r}) cannot send its args: {error}."
        if info_for_class(cls) is None and cls.__module__ != "builtins":
            handler = (
                f"the handler {svc_meth} takes {method.args_type.__qualname__}"
                if method is not None and method.args_type is not None
                else f"annotate the handler: def {meth_name}(self, args: "
                f"{cls.__qualname__}, reply: ReplyType) -> None (labrpc registers a handler's "
                f"annotated classes)"
            )
            return (
                f"{prefix} Either {handler}, or call labgob.Register({cls.__qualname__}) once, "
                "at import"
            )
        return (
            f"{prefix} labrpc registers only a handler's annotated args and reply classes; "
            "call labgob.Register(...) once, at import, for each class of your own inside them"
        )


def MakeService(rcvr: Any) -> Service:
    return Service(rcvr)


def MakeServer() -> Server:
    return Server()
