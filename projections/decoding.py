"""Decoding for read models: only the fields they read, straight from the stored JSON.

The ledger decodes a stored event into its full domain event (``json.loads``, then pydantic
validation of every field). A read model reads a handful of fields, so the runner decodes only
those, into a ``msgspec.Struct`` generated from the domain event's own field declarations
(same types, defaults, constraints and validators: one source of truth), parsed from the stored
bytes in one step in C. Fields it does not read are skipped by the parser, unconverted. That
costs about a fifth of ``json.loads`` of the same bytes, and a twentieth of the full mapper.

What the generated decoders keep of pydantic's rules (tests/integration/test_partial_decoding.py
compares them with the full domain event, for every type of the event catalogue):

- the field types (``Decimal``, ``date``, ``datetime``, ``UUID``, ``Literal``, optional, tuples,
  lists, dicts, ``Any``) as msgspec decodes them, with pydantic's lax coercions (``strict=False``);
  a ``Decimal`` must be finite (pydantic refuses NaN and infinities);
- ``Annotated`` constraints (``MaxLen``, ``MinLen``, ``Ge``, ``Le``, ``Gt``, ``Lt``) and
  ``AfterValidator`` functions, and the models' own ``mode="after"`` field validators (e.g. an
  event's timestamp must be timezone-aware), run in the struct's ``__post_init__``;
- nested models become structs too (with the model's methods and properties, so a handler
  may call ``line.net(currency)``), refusing unknown keys where the model forbids them; a
  nested model with a model validator or another kind of validator is validated by pydantic
  itself (``TypeAdapter``), as is any other type this module does not translate.

What a handler receives is such a struct, typed as its domain event: reading a field the
handler did not declare raises AttributeError, and the tests apply every handler.
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import annotated_types
import msgspec
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic
from pydantic import AfterValidator, BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from domain.aggregate import Event

Check = Callable[[Any], Any]  # value -> value (may normalise), raises on a bad value
PLAIN = (str, int, bool, float, date, UUID, datetime)
# the columns of the stored record, not its JSON: set on every decoded event
KEYS = ("originator_id", "originator_version")


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"a decimal must be finite, not {value}")
    return value


def _then(first: Check | None, second: Check) -> Check:
    if first is None:
        return second
    return lambda value: second(first(value))


def _constraint(meta: Any) -> Check | None:
    """A check for one ``Annotated`` item, or None when this module does not know it."""
    if isinstance(meta, AfterValidator):
        func = meta.func
        if len(inspect.signature(func).parameters) != 1:
            return None
        return func  # type: ignore[return-value]
    if isinstance(meta, annotated_types.MaxLen):
        limit = meta.max_length

        def max_len(value: Any) -> Any:
            if len(value) > limit:
                raise ValueError(f"longer than {limit}")
            return value

        return max_len
    if isinstance(meta, annotated_types.MinLen):
        least = meta.min_length

        def min_len(value: Any) -> Any:
            if len(value) < least:
                raise ValueError(f"shorter than {least}")
            return value

        return min_len
    bounds: dict[type, Callable[[Any, Any], bool]] = {
        annotated_types.Ge: lambda value, bound: value >= bound,
        annotated_types.Le: lambda value, bound: value <= bound,
        annotated_types.Gt: lambda value, bound: value > bound,
        annotated_types.Lt: lambda value, bound: value < bound,
    }
    holds = bounds.get(type(meta))
    if holds is not None:
        bound = getattr(meta, type(meta).__name__.lower())
        shown = repr(meta)

        def within(value: Any) -> Any:
            if not holds(value, bound):
                raise ValueError(f"{value!r} is not {shown}")
            return value

        return within
    return None


class Unsupported(TypeError):
    """An annotation the struct translation does not cover (pydantic validates it instead)."""


def translate(annotation: Any, metadata: Iterable[Any] = ()) -> tuple[Any, Check | None]:
    """The msgspec type for a pydantic annotation, and the check to run on decoded values."""
    spec, check = _type(annotation)
    for meta in metadata:
        more = _constraint(meta)
        if more is None:
            raise Unsupported(f"constraint {meta!r}")
        check = _then(check, more) if check is not None else more
    return spec, check


def _type(annotation: Any) -> tuple[Any, Check | None]:
    if annotation is Any:
        return Any, None
    if annotation is Decimal:
        return Decimal, _finite
    if annotation in PLAIN:
        return annotation, None
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return annotation, None
    if origin is Annotated:
        return translate(args[0], args[1:])
    if origin in (Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) != 1 or len(others) == len(args):
            raise Unsupported(f"union {annotation!r}")
        spec, check = _type(others[0])
        if check is None:
            return spec | None, None
        inner = check
        return spec | None, lambda value: None if value is None else inner(value)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        spec, check = _type(args[0])
        if check is None:
            return tuple[spec, ...], None  # type: ignore[valid-type]
        inner = check
        return tuple[spec, ...], lambda value: tuple(map(inner, value))  # type: ignore[valid-type]
    if origin is list:
        spec, check = _type(args[0])
        if check is None:
            return list[spec], None  # type: ignore[valid-type]
        inner = check
        return list[spec], lambda value: list(map(inner, value))  # type: ignore[valid-type]
    if origin is dict and args and args[0] is str:
        spec, check = _type(args[1])
        if check is None:
            return dict[str, spec], None  # type: ignore[valid-type]
        inner = check
        return dict[str, spec], lambda value: {k: inner(v) for k, v in value.items()}  # type: ignore[valid-type]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return nested_struct(annotation), None
    raise Unsupported(f"type {annotation!r}")


def _field_spec(model: type[BaseModel], name: str, info: FieldInfo) -> tuple[Any, Check | None]:
    """A field's msgspec type and check; pydantic itself for what is not translated."""
    try:
        spec, check = translate(info.annotation, info.metadata)
    except Unsupported:
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[annotation, *info.metadata]
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        return Any, adapter.validate_python
    for validator in _field_validators(model, name):
        check = _then(check, validator) if check is not None else validator
    return spec, check


def _field_validators(model: type[BaseModel], name: str) -> list[Check]:
    found = []
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if name in decorator.info.fields or "*" in decorator.info.fields:
            func = decorator.func
            if decorator.info.mode != "after" or len(inspect.signature(func).parameters) != 1:
                raise Unsupported(f"{model.__qualname__}.{name}: {decorator.info.mode} validator")
            found.append(func)
    return found


def _default(info: FieldInfo) -> Any:
    default = info.get_default(call_default_factory=True)
    if isinstance(default, list | dict | set):
        return msgspec.field(default_factory=lambda: copy.copy(default))
    return default


def _post_init(checks: list[tuple[str, Check]]) -> Callable[[Any], None]:
    """msgspec's hook after decoding: runs the checks, generated as straight-line code (it runs
    for every event decoded; a loop with getattr/setattr cost twice as much)."""
    lines = ["def __post_init__(self):"]
    scope: dict[str, Any] = {"_finite": _finite}
    for n, (name, check) in enumerate(checks):
        if check is _finite:  # the common case, inlined: no call unless the value is bad
            lines.append(f"    if not self.{name}.is_finite(): _finite(self.{name})")
        else:
            scope[f"check{n}"] = check
            lines.append(f"    self.{name} = check{n}(self.{name})")
    exec("\n".join(lines), scope)
    post_init: Callable[[Any], None] = scope["__post_init__"]
    return post_init


def _struct(
    name: str,
    model: type[BaseModel],
    fields: Iterable[str],
    namespace: dict[str, Any],
    forbid_unknown: bool,
) -> type[msgspec.Struct]:
    annotations: dict[str, Any] = {}
    checks: list[tuple[str, Check]] = []
    for field in sorted(fields):
        info = model.model_fields[field]
        spec, check = _field_spec(model, field, info)
        annotations[field] = spec
        if not info.is_required():
            namespace[field] = _default(info)
        if check is not None:
            checks.append((field, check))
    if checks:
        namespace["__post_init__"] = _post_init(checks)
    namespace["__annotations__"] = annotations
    namespace["__module__"] = __name__
    return types.new_class(
        name,
        (msgspec.Struct,),
        {"kw_only": True, "forbid_unknown_fields": forbid_unknown},
        lambda ns: ns.update(namespace),
    )


def _methods(model: type[BaseModel]) -> dict[str, Any]:
    """The model's own methods and properties (a handler may call ``line.net(currency)``)."""
    found: dict[str, Any] = {}
    for klass in reversed(model.__mro__):
        if klass in BaseModel.__mro__:
            continue
        for name, value in vars(klass).items():
            if name.startswith("__") or name.startswith("model_"):
                continue
            if isinstance(value, types.FunctionType | property | staticmethod):
                found[name] = value
    return found


@cache
def nested_struct(model: type[BaseModel]) -> Any:
    """A nested model as a struct of all its fields, or pydantic's own validator when the model
    has rules a struct cannot run (model validators, validators that take more than a value)."""
    if model.__pydantic_decorators__.model_validators or any(
        d.info.mode != "after" for d in model.__pydantic_decorators__.field_validators.values()
    ):
        raise Unsupported(f"{model.__qualname__} has model or non-after validators")
    return _struct(
        model.__qualname__.replace(".", ""),
        model,
        model.model_fields,
        _methods(model),
        model.model_config.get("extra") == "forbid",
    )


def fields_struct(kind: type[Event], fields: Iterable[str]) -> type[msgspec.Struct]:
    """A struct of ``kind`` holding only ``fields`` (others in the JSON are skipped), plus the
    record's ``originator_id`` and ``originator_version``."""
    declared = kind.model_fields
    wanted = set(fields)
    unknown = sorted(wanted - set(declared))
    if unknown:
        raise ValueError(f"{kind.__qualname__} has no field(s) {', '.join(unknown)}")
    namespace: dict[str, Any] = {}
    struct = _struct(
        f"{kind.__qualname__.replace('.', '')}Fields",
        kind,
        wanted - set(KEYS),
        namespace,
        forbid_unknown=False,  # the fields it does not read are skipped
    )
    # the ids come from the record's columns: two more slots, set by ``decode``
    return types.new_class(
        struct.__name__,
        (struct,),
        {"kw_only": True},
        lambda ns: ns.update(
            {
                "__annotations__": {"originator_id": Any, "originator_version": int},
                "originator_id": None,
                "originator_version": 0,
                "__module__": __name__,
            }
        ),
    )


class PartialDecoder:
    """Stored event -> the fields some read models read, keyed by event topic."""

    def __init__(self, mapper: Mapper[UUID], reads: Mapping[type[Event], Iterable[str]]) -> None:
        self.mapper = mapper
        self.models: dict[str, tuple[type[Event], type[msgspec.Struct]]] = {}
        self._decoders: dict[str, tuple[type[Event], Callable[[bytes], Any]]] = {}
        for kind, fields in reads.items():
            struct = fields_struct(kind, fields)
            topic = get_topic(kind)
            self.models[topic] = (kind, struct)
            self._decoders[topic] = (kind, msgspec.json.Decoder(struct, strict=False).decode)

    @property
    def topics(self) -> list[str]:
        return sorted(self.models)

    def decode(self, notification: Notification) -> tuple[type[Event], Any]:
        """The event's type and its partial struct (with ``originator_id`` and ``_version``)."""
        return self.decode_record(
            notification.topic,
            notification.state,
            notification.originator_id,
            notification.originator_version,
        )

    def decode_record(
        self, topic: str, state: bytes, originator_id: Any, originator_version: int
    ) -> tuple[type[Event], Any]:
        """``decode`` of a stored record's parts (the runner reads rows, not Notifications;
        its ``originator_id`` is the id's canonical text, which read models key rows by)."""
        kind, decode = self._decoders[topic]
        if self.mapper.cipher:
            state = self.mapper.cipher.decrypt(state)
        if self.mapper.compressor:
            state = self.mapper.compressor.decompress(state)
        event = decode(state)
        event.originator_id = originator_id
        event.originator_version = originator_version
        return kind, event
