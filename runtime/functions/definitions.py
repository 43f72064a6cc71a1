"""The decorators that turn Python functions into Convex functions, and what they record.

    @query(args={"channel": v.string()})
    async def list_(ctx, args): ...          # exported as "list" (a trailing "_" is dropped)

    @mutation
    async def send(ctx, *, author: str, body: str): ...   # type hints as validators

A handler takes ``(ctx, args)``, or ``(ctx, **args)`` when it declares keyword-only parameters;
the keyword-only spelling derives the ``args`` validator from their type hints.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

from runtime.functions.annotations import validators_from_signature
from runtime.values.validators import ObjectValidator, Validator, v

Kind = Literal["query", "mutation", "action"]
Visibility = Literal["public", "internal"]
Handler = Callable[..., Any]


@dataclass(eq=False)
class FunctionDefinition:
    """A registered function: what the registry, the validators and the executor need."""

    kind: Kind
    visibility: Visibility
    handler: Handler
    args: ObjectValidator | None
    returns: Validator | None
    export_name: str | None
    keyword_args: bool
    path: str | None = None  # "dir/module:name", assigned when the app is loaded

    @property
    def is_internal(self) -> bool:
        return self.visibility == "internal"

    def __repr__(self) -> str:
        return f"<{self.visibility} {self.kind} {self.path or self.handler.__qualname__}>"


def _define(
    kind: Kind, visibility: Visibility, handler: Handler, args: Any, returns: Validator | None, name: str | None
) -> FunctionDefinition:
    if not inspect.iscoroutinefunction(handler):
        raise TypeError(f"{handler.__qualname__}: Convex function handlers must be `async def`")
    keyword_args = any(p.kind is inspect.Parameter.KEYWORD_ONLY for p in inspect.signature(handler).parameters.values())
    if isinstance(args, dict):
        args = v.object(args)
    if args is None and keyword_args:
        args = validators_from_signature(handler)
    if args is not None and not isinstance(args, ObjectValidator):
        raise TypeError(f"{handler.__qualname__}: `args` must be a dict of validators or v.object(...)")
    return FunctionDefinition(kind, visibility, handler, args, returns, name, keyword_args)


def _decorator(kind: Kind, visibility: Visibility) -> Any:
    @overload
    def decorate(handler: Handler, /) -> FunctionDefinition: ...

    @overload
    def decorate(
        *, args: Any = None, returns: Validator | None = None, name: str | None = None
    ) -> Callable[[Handler], FunctionDefinition]: ...

    def decorate(
        handler: Handler | None = None, /, *, args: Any = None, returns: Validator | None = None, name: str | None = None
    ) -> Any:
        if handler is not None:
            return _define(kind, visibility, handler, args, returns, name)
        return lambda inner: _define(kind, visibility, inner, args, returns, name)

    decorate.__doc__ = f"Register an {'internal ' if visibility == 'internal' else ''}{kind} (see the module docstring)."
    return decorate


query = _decorator("query", "public")
mutation = _decorator("mutation", "public")
action = _decorator("action", "public")
internal_query = _decorator("query", "internal")
internal_mutation = _decorator("mutation", "internal")
internal_action = _decorator("action", "internal")
