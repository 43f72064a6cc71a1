"""Plain type hints as a second spelling of validators: ``int | None`` means ``v.union(v.int64(), v.null())``.

A handler that declares keyword-only parameters (``async def send(ctx, *, author: str)``) gets its
``args`` validator from their hints, so typed Python code and Convex validators say the same thing.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Final

from runtime.values.validators import LiteralValidator, ObjectValidator, Validator, v

_SIMPLE_HINTS: Final[dict[object, Validator]] = {
    str: v.string(),
    int: v.int64(),
    float: v.float64(),
    bool: v.boolean(),
    bytes: v.bytes(),
    None: v.null(),
    type(None): v.null(),
    Any: v.any(),
    list: v.array(v.any()),
    dict: v.record(v.string(), v.any()),
}

_SUPPORTED_HINTS: Final = (
    "str, int, float, bool, bytes, None, Any, list[X], dict[str, X], X | None, Optional[X], "
    "Union[...], Literal[...], a TypedDict, Annotated[..., <validator>] or a validator itself"
)


def validator_from_annotation(annotation: object) -> Validator:
    """Translate a type hint into the validator it means (``int | None`` → ``v.union(v.int64(), v.null())``).

    Raises ``TypeError`` for a hint with no Convex meaning.
    """
    if isinstance(annotation, Validator):
        return annotation
    try:
        simple = _SIMPLE_HINTS.get(annotation)
    except TypeError:  # unhashable annotation
        simple = None
    if simple is not None:
        return simple
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        chosen = next((item for item in arguments[1:] if isinstance(item, Validator)), None)
        return chosen if chosen is not None else validator_from_annotation(arguments[0])
    if origin is typing.Union or origin is types.UnionType:
        return v.union(*(validator_from_annotation(argument) for argument in arguments))
    if origin is typing.Literal:
        literals = [v.null() if item is None else _literal_from_hint(item, annotation) for item in arguments]
        return literals[0] if len(literals) == 1 else v.union(*literals)
    if origin is list and len(arguments) == 1:
        return v.array(validator_from_annotation(arguments[0]))
    if origin is dict and len(arguments) == 2 and arguments[0] is str:
        return v.record(v.string(), validator_from_annotation(arguments[1]))
    if typing.is_typeddict(annotation):
        return _typeddict_validator(annotation)
    raise TypeError(f"Cannot turn the type hint {annotation!r} into a validator; supported are {_SUPPORTED_HINTS}")


def _literal_from_hint(item: object, annotation: object) -> LiteralValidator:
    if not isinstance(item, (str, int, float)):
        raise TypeError(f"Cannot turn the type hint {annotation!r} into a validator: {item!r} is not a Convex literal")
    return v.literal(item)


def _typeddict_validator(typeddict: Any) -> ObjectValidator:
    """A TypedDict is an object; ``NotRequired`` (or ``total=False``) fields are optional."""
    hints = typing.get_type_hints(typeddict, include_extras=True)
    fields: dict[str, Validator] = {}
    for name, hint in hints.items():
        optional = name in typeddict.__optional_keys__
        origin = typing.get_origin(hint)
        if origin is typing.NotRequired or origin is typing.Required:
            optional, hint = origin is typing.NotRequired, typing.get_args(hint)[0]
        field = validator_from_annotation(hint)
        fields[name] = field.as_optional() if optional else field
    return v.object(fields)


def validators_from_signature(fn: Callable[..., Any]) -> ObjectValidator | None:
    """The args validator spelled by ``fn``'s keyword-only parameters, or None if it has none.

    ``async def send(ctx, *, author: str, body: str = "x")`` means
    ``v.object({"author": v.string(), "body": v.optional(v.string())})``: a default makes a field
    optional, a missing annotation means ``v.any()``.
    """
    parameters = [
        parameter
        for parameter in inspect.signature(fn).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    if not parameters:
        return None
    try:
        hints = inspect.get_annotations(fn, eval_str=True)
    except Exception as error:
        raise TypeError(f"Cannot resolve the type hints of {fn.__qualname__}: {error}") from error
    fields: dict[str, Validator] = {}
    for parameter in parameters:
        hint = hints.get(parameter.name, inspect.Parameter.empty)
        try:
            field = v.any() if hint is inspect.Parameter.empty else validator_from_annotation(hint)
        except TypeError as error:
            raise TypeError(f"Parameter `{parameter.name}` of {fn.__qualname__}: {error}") from None
        has_default = parameter.default is not inspect.Parameter.empty
        fields[parameter.name] = field.as_optional() if has_default else field
    return v.object(fields)
