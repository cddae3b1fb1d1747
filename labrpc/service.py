"""Servers and services: the receiving side of an RPC.

Go's labrpc finds handlers by reflection: exported methods taking (args,
*reply).  Python has no pointer types, so a handler is a public method
`Name(self, args: ArgsT, reply: ReplyT)` and its annotations tell labrpc
which reply to build.  A reply crosses the network through labgob and is
copied into the caller's object, as Go decodes into the caller's pointer.

A public method with two unannotated parameters may be a handler whose
annotations were forgotten, or just a helper: Go's labrpc skips methods that
do not look like handlers, so MakeService does too, and a Call to one says
how to annotate it.
"""

from __future__ import annotations

import inspect
import threading
import typing
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


class Service:
    """An object whose handler methods can be called over the network."""

    def __init__(self, rcvr: Any) -> None:
        self.name = type(rcvr).__name__
        self.rcvr = rcvr
        self.methods: dict[str, _Method] = {}
        self.unannotated: dict[str, str] = {}  # method name -> how to make it a handler
        for name, func in inspect.getmembers(type(rcvr), inspect.isfunction):
            if name.startswith("_"):
                continue
            method = self._handler(name, func)
            if method is not None:
                self.methods[name] = method

    def _handler(self, name: str, func: Callable[..., Any]) -> _Method | None:
        """The handler that func is, or None if it is some other method."""
        params = list(inspect.signature(func).parameters.values())[1:]
        if len(params) != 2 or any(
            p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params
        ):
            return None
        where = f"{self.name}.{name}(self, {params[0].name}, {params[1].name})"
        try:
            hints = typing.get_type_hints(func)
        except Exception as e:
            raise LabrpcError(f"labrpc: cannot resolve the annotations of {where}: {e}") from None
        args_type = hints.get(params[0].name)
        reply_type = hints.get(params[1].name)
        if args_type is None or reply_type is None:
            self.unannotated[name] = (
                f"labrpc: {where} is not fully annotated, so labrpc cannot tell which reply "
                f"to build and does not treat it as an RPC handler. Write it as "
                f"def {name}(self, {params[0].name}: ArgsType, "
                f"{params[1].name}: ReplyType) -> None"
            )
            return None
        if not isinstance(reply_type, type) or reply_type.__module__ == "builtins":
            return None
        try:
            reply_type()
        except TypeError as e:
            raise LabrpcError(
                f"labrpc: the reply type {reply_type.__qualname__} of {where} must be "
                f"constructible with no arguments (give every field a default): {e}"
            ) from None
        _register(args_type)
        _register(reply_type)
        return _Method(getattr(self.rcvr, name), args_type, reply_type)

    def dispatch(self, meth_name: str, svc_meth: str, args_bytes: bytes) -> bytes:
        method = self.methods.get(meth_name)
        if method is None:
            if meth_name in self.unannotated:
                raise LabrpcError(self.unannotated[meth_name])
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


def MakeService(rcvr: Any) -> Service:
    return Service(rcvr)


def MakeServer() -> Server:
    return Server()
