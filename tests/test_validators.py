"""Validators: what each kind accepts, the exact Convex messages, JSON forms and type-hint spellings."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict, Union

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.functions.annotations import validator_from_annotation, validators_from_signature
from runtime.values import ids
from runtime.values.errors import ArgumentValidationError, ReturnsValidationError
from runtime.values.validators import (
    ArrayValidator,
    IdValidator,
    LiteralValidator,
    ObjectValidator,
    RecordValidator,
    ScalarValidator,
    UnionValidator,
    ValidationFailure,
    Validator,
    v,
    validate_args,
    validate_returns,
)
from runtime.values.values import UNDEFINED


class FakeTables:
    """The smallest TableNames: a fixed table-number → name map."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names

    def table_name(self, table_number: int) -> str | None:
        return self.names.get(table_number)


TABLES = FakeTables({10001: "users", 10002: "messages", 7: "_storage"})
USER_ID = ids.encode_id(10001, bytes(16))
MESSAGE_ID = ids.encode_id(10002, bytes(16))
STORAGE_ID = ids.encode_id(7, bytes(16))
UNKNOWN_TABLE_ID = ids.encode_id(10099, bytes(16))


def failure(validator: Validator, value: Any, path: str = "") -> str:
    with pytest.raises(ValidationFailure) as caught:
        validator.check(value, path, TABLES)
    return str(caught.value)


def no_match(value: str, validator: str, path: str = "") -> str:
    context = f"Path: {path}" if path else ""
    return f"Value does not match validator.\n{context}\nValue: {value}\nValidator: {validator}"


# --- scalars ---------------------------------------------------------------------------------

SAMPLES: dict[str, Any] = {
    "null": None,
    "true": True,
    "int": 7,
    "int64_max": 2**63 - 1,
    "too_big_int": 2**63,
    "float": 1.5,
    "integral_float": 3.0,
    "negative_zero": -0.0,
    "nan": math.nan,
    "inf": -math.inf,
    "string": "hi",
    "bytes": b"\x00",
    "list": [],
    "dict": {},
}

ACCEPTED: dict[str, set[str]] = {
    "v.null()": {"null"},
    "v.float64()": {"float", "integral_float", "negative_zero", "nan", "inf"},
    "v.int64()": {"int", "int64_max"},
    "v.boolean()": {"true"},
    "v.string()": {"string"},
    "v.bytes()": {"bytes"},
    "v.any()": set(SAMPLES),
}

SCALARS = {
    "v.null()": v.null(),
    "v.float64()": v.float64(),
    "v.int64()": v.int64(),
    "v.boolean()": v.boolean(),
    "v.string()": v.string(),
    "v.bytes()": v.bytes(),
    "v.any()": v.any(),
}


@pytest.mark.parametrize("name", SCALARS)
@pytest.mark.parametrize("sample", SAMPLES)
def test_scalar_validators_accept_exactly_their_type(name: str, sample: str) -> None:
    assert SCALARS[name].accepts(SAMPLES[sample], TABLES) == (sample in ACCEPTED[name])


def test_number_rejects_int64_and_says_so_without_a_path_at_top_level() -> None:
    assert failure(v.number(), 1) == no_match("1n", "v.float64()")


def test_int64_rejects_bool_and_float() -> None:
    assert failure(v.int64(), True) == no_match("true", "v.int64()")
    assert failure(v.int64(), 1.0) == no_match("1", "v.int64()")


def test_boolean_rejects_ints() -> None:
    assert not v.boolean().accepts(1)
    assert not v.boolean().accepts(0)


def test_aliases_are_the_same_validator() -> None:
    assert v.number() == v.float64()
    assert v.bigint() == v.int64()
    assert v.nullable(v.string()) == v.union(v.string(), v.null())


# --- literals --------------------------------------------------------------------------------


def test_int_float_and_bool_literals_are_distinct() -> None:
    assert v.literal(1).accepts(1)
    assert not v.literal(1).accepts(1.0)
    assert not v.literal(1).accepts(True)
    assert v.literal(1.0).accepts(1.0)
    assert not v.literal(1.0).accepts(1)
    assert v.literal(True).accepts(True)
    assert not v.literal(True).accepts(1)
    assert v.literal(1) != v.literal(1.0) != v.literal(True)


def test_literal_zero_does_not_match_negative_zero() -> None:
    assert v.literal(0.0).accepts(0.0)
    assert not v.literal(0.0).accepts(-0.0)
    assert v.literal(-0.0) != v.literal(0.0)


def test_literal_mismatch_message() -> None:
    assert failure(v.literal("a"), "b") == '`"b"` does not match literal validator `v.literal("a")`.'
    assert failure(v.literal(1.0), 1) == "`1n` does not match literal validator `v.literal(1.0)`."
    assert failure(v.literal(5), 6) == "`6n` does not match literal validator `v.literal(<bigint>)`."
    # Convex appends the path to the sentence without a separator.
    nested = v.object({"kind": v.literal(False)})
    assert failure(nested, {"kind": True}) == "`true` does not match literal validator `v.literal(false)`.Path: .kind"


@pytest.mark.parametrize("bad", [math.nan, math.inf, None, [1], 2**63])
def test_literal_rejects_values_convex_cannot_hold(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        v.literal(bad)


# --- ids -------------------------------------------------------------------------------------


def test_id_accepts_ids_of_its_table() -> None:
    v.id("users").check(USER_ID, "", TABLES)
    v.id("_storage").check(STORAGE_ID, "", TABLES)


def test_id_of_another_user_table() -> None:
    assert failure(v.id("users"), MESSAGE_ID) == (
        f'Found ID "{MESSAGE_ID}" from table `messages`, which does not match the table name in validator '
        '`v.id("users")`.'
    )
    assert failure(v.object({"author": v.id("users")}), {"author": MESSAGE_ID}).endswith(
        '`v.id("users")`.Path: .author'
    )


def test_id_of_a_system_table() -> None:
    assert failure(v.id("users"), STORAGE_ID) == (
        f'Found ID "{STORAGE_ID}" from a system table, which does not match the table name in validator '
        '`v.id("users")`.'
    )


@pytest.mark.parametrize("value", ["not an id", UNKNOWN_TABLE_ID, USER_ID[:-1] + "z", 5])
def test_undecodable_or_unknown_ids_do_not_match(value: Any) -> None:
    shown = f'"{value}"' if isinstance(value, str) else "5n"
    assert failure(v.id("users"), value) == no_match(shown, 'v.id("users")')


def test_long_strings_are_not_ids() -> None:
    assert failure(v.id("users"), USER_ID * 1000).startswith("Value does not match validator.")


def test_id_needs_a_table_mapping() -> None:
    assert not v.id("users").accepts(USER_ID, None)


def test_id_table_must_be_an_identifier() -> None:
    with pytest.raises(ValueError, match="Invalid table name"):
        v.id("bad-name")


# --- objects ---------------------------------------------------------------------------------

MESSAGE = v.object({"body": v.string(), "author": v.id("users"), "likes": v.optional(v.float64())})
MESSAGE_TEXT = 'v.object({author: v.id("users"), body: v.string(), likes: v.optional(v.float64())})'


def test_object_accepts_required_and_optional_fields() -> None:
    MESSAGE.check({"body": "hi", "author": USER_ID}, "", TABLES)
    MESSAGE.check({"body": "hi", "author": USER_ID, "likes": 2.0}, "", TABLES)


def test_missing_required_field_message() -> None:
    assert failure(MESSAGE, {"body": "hi"}) == (
        "Object is missing the required field `author`. Consider wrapping the field validator in "
        "`v.optional(...)` if this is expected.\n"
        "\n"
        'Object: {body: "hi"}\n'
        f"Validator: {MESSAGE_TEXT}"
    )


def test_extra_field_message_shows_the_object_with_sorted_keys() -> None:
    assert failure(MESSAGE, {"body": "hi", "bad": 1, "author": USER_ID}) == (
        "Object contains extra field `bad` that is not in the validator.\n"
        "\n"
        f'Object: {{author: "{USER_ID}", bad: 1n, body: "hi"}}\n'
        f"Validator: {MESSAGE_TEXT}"
    )


def test_nested_messages_carry_the_path() -> None:
    validator = v.object({"a": v.object({"b": v.array(v.string())})})
    assert failure(validator, {"a": {"b": ["x", "y", "z", 123.0]}}) == no_match("123", "v.string()", ".a.b[3]")
    assert failure(validator, {"a": {"b": [], "c": 1}}).startswith(
        "Object contains extra field `c` that is not in the validator.\nPath: .a\nObject: {b: [], c: 1n}\n"
    )


def test_optional_field_still_rejects_null() -> None:
    assert failure(MESSAGE, {"body": "hi", "author": USER_ID, "likes": None}) == no_match(
        "null", "v.float64()", ".likes"
    )


def test_undefined_fields_count_as_missing() -> None:
    MESSAGE.check({"body": "hi", "author": USER_ID, "likes": UNDEFINED}, "", TABLES)
    MESSAGE.check({"body": "hi", "author": USER_ID, "extra": UNDEFINED}, "", TABLES)
    assert failure(MESSAGE, {"body": "hi", "author": UNDEFINED}).startswith(
        "Object is missing the required field `author`."
    )


def test_first_failure_is_reported_in_field_name_order() -> None:
    validator = v.object({"z": v.string(), "a": v.string()})
    assert failure(validator, {"z": 1.0, "a": 2.0}) == no_match("2", "v.string()", ".a")


def test_empty_object_validator_only_accepts_empty_objects() -> None:
    v.object({}).check({})
    assert failure(v.object({}), {"a": 1.0}).startswith("Object contains extra field `a`")


def test_object_field_names_must_be_identifiers() -> None:
    with pytest.raises(ValueError, match="Invalid validator for key `a-b`"):
        v.object({"a-b": v.string()})
    with pytest.raises(TypeError):
        v.object({"a": str})  # type: ignore[dict-item]


def test_non_objects_do_not_match_an_object_validator() -> None:
    assert failure(v.object({}), [1.0]) == no_match("[1]", "v.object({})")


# --- arrays, records, unions -----------------------------------------------------------------


def test_array_accepts_lists_of_its_element() -> None:
    v.array(v.float64()).check([1.0, math.nan, -0.0])
    assert not v.array(v.float64()).accepts((1.0,))
    assert failure(v.array(v.float64()), [1.0, 2]) == no_match("2n", "v.float64()", "[1]")


def test_record_checks_keys_and_values_with_their_own_paths() -> None:
    scores = v.record(v.string(), v.float64())
    scores.check({"alice": 1.0, "bob": 2.5})
    assert failure(v.object({"s": scores}), {"s": {"a": 1.0, "b": "x"}}) == no_match(
        '"x"', "v.float64()", ".s.values()"
    )
    by_user = v.record(v.id("users"), v.boolean())
    by_user.check({USER_ID: True}, "", TABLES)
    assert failure(by_user, {"nobody": True}) == no_match('"nobody"', 'v.id("users")', ".keys()")


def test_record_skips_undefined_values() -> None:
    v.record(v.string(), v.float64()).check({"a": UNDEFINED})


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            v.float64(),
            "Records can only have string keys. Your validator contains a record with key typed as `v.float64()`",
        ),
        (v.any(), "Records can only have string keys."),
        (v.literal("a"), "Records cannot have string literal keys"),
        (v.union(v.string(), v.literal("a")), "Records cannot have string literal keys"),
    ],
)
def test_record_key_rules(keys: Validator, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        v.record(keys, v.any())


def test_record_values_cannot_be_optional() -> None:
    with pytest.raises(ValueError, match="Records cannot have optional values"):
        v.record(v.string(), v.optional(v.string()))


def test_union_accepts_any_member_and_names_itself_when_none_match() -> None:
    validator = v.union(v.string(), v.float64())
    validator.check("x")
    validator.check(1.0)
    assert failure(validator, 1) == no_match("1n", "v.union(v.string(), v.float64())")


def test_single_member_union_behaves_as_its_member() -> None:
    validator = v.union(v.object({"a": v.string()}))
    assert failure(validator, {}).startswith("Object is missing the required field `a`.")


def test_empty_union_matches_nothing() -> None:
    assert failure(v.union(), None) == no_match("null", "v.union()")


def test_optional_is_only_for_object_fields() -> None:
    for build in (
        lambda: v.array(v.optional(v.string())),
        lambda: v.union(v.optional(v.string())),
        lambda: v.nullable(v.optional(v.string())),
    ):
        with pytest.raises(TypeError, match="only meaningful as an object field"):
            build()


def test_optional_marks_the_validator() -> None:
    assert v.optional(v.string()).is_optional
    assert not v.string().is_optional
    assert v.optional(v.string()) != v.string()
    assert repr(v.optional(v.string())) == "v.optional(v.string())"


def test_validators_are_immutable() -> None:
    with pytest.raises(AttributeError):
        v.string().is_optional = True


# --- JSON and rendering ----------------------------------------------------------------------


def test_json_forms() -> None:
    assert v.string().to_json() == {"type": "string"}
    assert v.number().to_json() == {"type": "number"}
    assert v.int64().to_json() == {"type": "bigint"}
    assert v.null().to_json() == {"type": "null"}
    assert v.boolean().to_json() == {"type": "boolean"}
    assert v.bytes().to_json() == {"type": "bytes"}
    assert v.any().to_json() == {"type": "any"}
    assert v.id("users").to_json() == {"type": "id", "tableName": "users"}
    assert v.literal("a").to_json() == {"type": "literal", "value": "a"}
    assert v.literal(1.5).to_json() == {"type": "literal", "value": 1.5}
    assert v.literal(1).to_json() == {"type": "literal", "value": {"$integer": "AQAAAAAAAAA="}}
    assert v.array(v.string()).to_json() == {"type": "array", "value": {"type": "string"}}
    assert v.union(v.string(), v.null()).to_json() == {"type": "union", "value": [{"type": "string"}, {"type": "null"}]}
    assert v.record(v.string(), v.float64()).to_json() == {
        "type": "record",
        "keys": {"type": "string"},
        "values": {"fieldType": {"type": "number"}, "optional": False},
    }
    assert MESSAGE.to_json() == {
        "type": "object",
        "value": {
            "body": {"fieldType": {"type": "string"}, "optional": False},
            "author": {"fieldType": {"type": "id", "tableName": "users"}, "optional": False},
            "likes": {"fieldType": {"type": "number"}, "optional": True},
        },
    }


def test_reprs_follow_convex() -> None:
    assert repr(v.number()) == "v.float64()"
    assert repr(v.bigint()) == "v.int64()"
    assert repr(v.literal("a")) == 'v.literal("a")'
    assert repr(v.literal(True)) == "v.literal(true)"
    assert repr(v.literal(1e-7)) == "v.literal(1e-7)"
    assert repr(v.nullable(v.array(v.bytes()))) == "v.union(v.array(v.bytes()), v.null())"
    assert repr(v.record(v.id("users"), v.any())) == 'v.record(v.id("users"), v.any())'
    assert repr(MESSAGE) == MESSAGE_TEXT


def test_object_equality_ignores_field_order() -> None:
    assert v.object({"a": v.string(), "b": v.int64()}) == v.object({"b": v.int64(), "a": v.string()})
    assert hash(v.object({"a": v.string()})) == hash(v.object({"a": v.string()}))


# --- function arguments and return values ----------------------------------------------------


def test_validate_args_prefixes_the_message() -> None:
    with pytest.raises(ArgumentValidationError) as caught:
        validate_args(v.object({"a": v.float64()}), {"a": "x"}, TABLES)
    assert str(caught.value) == "ArgumentValidationError: " + no_match('"x"', "v.float64()", ".a")


def test_validate_args_requires_an_object() -> None:
    """The backend prints the value itself, a float64 with its fraction (convex-semantics §6.2)."""
    with pytest.raises(ArgumentValidationError) as caught:
        validate_args(None, [1.0], TABLES)
    assert str(caught.value) == (
        "ArgumentValidationError: Expected to receive an object as the function's argument. Instead received: [1.0]"
    )


def test_no_args_validator_accepts_any_object() -> None:
    assert validate_args(None, {"anything": [1, "x"]}, TABLES) == {"anything": [1, "x"]}


def test_empty_args_validator_rejects_extra_fields() -> None:
    with pytest.raises(ArgumentValidationError, match="extra field `a`"):
        validate_args(v.object({}), {"a": 1.0}, TABLES)


def test_validate_args_drops_undefined_fields() -> None:
    validator = v.object({"a": v.optional(v.string())})
    assert validate_args(validator, {"a": UNDEFINED}, TABLES) == {}


def test_validate_returns() -> None:
    assert validate_returns(v.null(), UNDEFINED, TABLES) is None
    assert validate_returns(None, "anything", TABLES) == "anything"
    with pytest.raises(ReturnsValidationError) as caught:
        validate_returns(v.string(), 1.0, TABLES)
    assert str(caught.value) == "ReturnsValidationError: " + no_match("1", "v.string()")


# --- type hints ------------------------------------------------------------------------------


class Author(TypedDict):
    name: str
    karma: NotRequired[int]


class Draft(TypedDict, total=False):
    title: str


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, v.string()),
        (int, v.int64()),
        (float, v.float64()),
        (bool, v.boolean()),
        (bytes, v.bytes()),
        (None, v.null()),
        (Any, v.any()),
        (list, v.array(v.any())),
        (dict, v.record(v.string(), v.any())),
        (list[str], v.array(v.string())),
        (dict[str, float], v.record(v.string(), v.float64())),
        (str | None, v.union(v.string(), v.null())),
        (Optional[int], v.union(v.int64(), v.null())),  # noqa: UP045 - the spelling under test
        (Union[str, bytes], v.union(v.string(), v.bytes())),  # noqa: UP007 - the spelling under test
        (Literal["a", 2], v.union(v.literal("a"), v.literal(2))),
        (Literal["only"], v.literal("only")),
        (Literal["a", None], v.union(v.literal("a"), v.null())),  # noqa: PYI061 - the spelling under test
        (Annotated[str, v.id("users")], v.id("users")),
        (Annotated[int, "just a note"], v.int64()),
        (list[Author], v.array(v.object({"name": v.string(), "karma": v.optional(v.int64())}))),
        (Draft, v.object({"title": v.optional(v.string())})),
        (v.id("users"), v.id("users")),
    ],
)
def test_type_hints_spell_validators(hint: Any, expected: Validator) -> None:
    assert validator_from_annotation(hint) == expected


@pytest.mark.parametrize("hint", [set[int], dict[int, str], tuple[int, ...], complex, object, Literal[1.5j]])
def test_unsupported_type_hints_raise_type_error(hint: Any) -> None:
    with pytest.raises(TypeError, match="into a validator"):
        validator_from_annotation(hint)


async def send(
    ctx: object, *, author: Annotated[str, v.id("users")], body: str = "x", tags: list[str] | None = None
) -> None:
    """A handler as an app writes it; this module's hints are strings (``from __future__``)."""


async def untyped(ctx: object, *, anything, count: int) -> None:  # type: ignore[no-untyped-def]
    """A handler with an unannotated argument."""


def test_keyword_only_parameters_spell_the_args_validator() -> None:
    assert validators_from_signature(send) == v.object(
        {
            "author": v.id("users"),
            "body": v.optional(v.string()),
            "tags": v.optional(v.union(v.array(v.string()), v.null())),
        }
    )
    assert validators_from_signature(untyped) == v.object({"anything": v.any(), "count": v.int64()})


def test_no_keyword_only_parameters_means_no_validation() -> None:
    async def handler(ctx: object, args: dict[str, Any]) -> None: ...

    assert validators_from_signature(handler) is None


def test_bad_parameter_hints_name_the_parameter() -> None:
    async def handler(ctx: object, *, when: complex) -> None: ...

    with pytest.raises(TypeError, match="Parameter `when`"):
        validators_from_signature(handler)

    async def unresolved(ctx: object, *, x: NoSuchType) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="Cannot resolve the type hints"):
        validators_from_signature(unresolved)


def test_signature_validator_is_an_object_validator() -> None:
    assert isinstance(validators_from_signature(send), ObjectValidator)


# --- properties ------------------------------------------------------------------------------

FIELD_NAMES = st.sampled_from(["a", "b", "c", "_x"])

leaf_validators = st.sampled_from(
    [
        v.null(),
        v.float64(),
        v.int64(),
        v.boolean(),
        v.string(),
        v.bytes(),
        v.any(),
        v.id("users"),
        v.id("_storage"),
        v.literal("a"),
        v.literal(1),
        v.literal(1.0),
        v.literal(False),
    ]
)


def _containers(inner: st.SearchStrategy[Validator]) -> st.SearchStrategy[Validator]:
    fields = st.dictionaries(FIELD_NAMES, st.tuples(inner, st.booleans()), max_size=3)
    return st.one_of(
        inner.map(v.array),
        fields.map(lambda spec: v.object({k: v.optional(f) if opt else f for k, (f, opt) in spec.items()})),
        st.lists(inner, max_size=3).map(lambda members: v.union(*members)),
        inner.map(lambda values: v.record(v.union(v.string(), v.id("users")), values)),
    )


validators = st.recursive(leaf_validators, _containers, max_leaves=6)

leaf_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.sampled_from(["a", "b", USER_ID, MESSAGE_ID, STORAGE_ID]),
    st.binary(max_size=3),
)
values = st.recursive(
    leaf_values,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(FIELD_NAMES, st.just(USER_ID)), st.one_of(inner, st.just(UNDEFINED)), max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=400)
@given(validators, values)
def test_fast_path_and_messages_agree(validator: Validator, value: Any) -> None:
    accepted = validator.accepts(value, TABLES)
    message = validator._failure(value, "", TABLES)
    assert accepted == (message is None), message


EXAMPLES: dict[str, Any] = {
    "null": None,
    "float64": 0.5,
    "int64": 3,
    "boolean": True,
    "string": "s",
    "bytes": b"",
    "any": [1],
}


def _example(validator: Validator) -> Any:
    """A value ``validator`` must accept, built from its structure (LookupError: there is none)."""
    if isinstance(validator, ScalarValidator):
        return EXAMPLES[validator.kind]
    if isinstance(validator, IdValidator):
        return USER_ID if validator.table == "users" else STORAGE_ID
    if isinstance(validator, LiteralValidator):
        return validator.value
    if isinstance(validator, ArrayValidator):
        return [_example(validator.element)]
    if isinstance(validator, ObjectValidator):
        return {name: _example(field) for name, field in validator.fields.items() if not field.is_optional}
    if isinstance(validator, RecordValidator):
        return {USER_ID: _example(validator.values)}
    assert isinstance(validator, UnionValidator)
    if not validator.members:
        raise LookupError("an empty union accepts nothing")
    return _example(validator.members[0])


@given(validators)
def test_values_built_from_a_validator_are_accepted(validator: Validator) -> None:
    try:
        example = _example(validator)
    except LookupError:
        return
    validator.check(example, "", TABLES)
