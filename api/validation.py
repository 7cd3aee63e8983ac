"""Strict request checks, run before litestar parses a request (the app's ``before_request``).

litestar converts JSON bodies with msgspec's lax rules: the string ``"30"`` and the float
``30.0`` would both become the integer 30, where the contract wants both refused. So this hook
first decodes the body strictly into the type of the handler's ``data`` parameter and refuses
it with ``validation_error`` naming the field. Only a strictly valid body reaches litestar, and
lax conversion of a strictly valid body yields the same values. Routes added later get this
for free: the type comes from the handler's signature.

The ``Idempotency-Key`` header is checked here too, so its error names the header. So are the
hostile-input limits: a body declared as anything but JSON is refused (415), as is free-form
``metadata`` that is nested too deeply, has too many keys or is too large (422), since it is
kept with the record forever and returned on every read.
"""

from __future__ import annotations

import re
import types
from functools import lru_cache
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from litestar import Request

from api.errors import UnsupportedMediaType
from ledger.domain.errors import FieldError, ValidationFailed

__all__ = [
    "IDEMPOTENCY_HEADER",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_METADATA_KEYS",
    "check_free_form",
    "check_metadata",
    "check_request",
    "decode_strict",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_METADATA_DEPTH = 8
"""Levels of nesting in ``metadata``: ``{}`` is one, ``{"a": {}}`` two (arrays count too)."""
MAX_METADATA_KEYS = 64
"""Object members in ``metadata``, counted over every level."""
MAX_METADATA_BYTES = 16_384
"""``metadata`` encoded as compact JSON."""
_METADATA_FIELD = "metadata"

_LOCATED = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"^Object (?P<kind>contains unknown|missing required) field `(?P<name>[^`]+)`")
_KIND_MESSAGE = {
    "contains unknown": "unknown field",
    "missing required": "required field is missing",
}


async def check_request(request: Request[Any, Any, Any]) -> None:
    """Refuse a malformed ``Idempotency-Key`` or a body that does not strictly fit the route."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailed(
            FieldError(IDEMPOTENCY_HEADER, f"must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
        )
    data_field = request.route_handler.parsed_data_field
    if data_field is not None:
        raw = await request.body()
        if raw.strip():
            _check_json_media_type(request.headers.get("content-type"))
        body = decode_strict(raw, data_field.annotation)
        check_free_form(body, "")
        if body is not None:
            _reuse_as_json(request, body)


def _reuse_as_json(request: Request[Any, Any, Any], body: Any) -> None:
    """Hand litestar the body already decoded, so it is not decoded a second time.

    litestar fills ``data`` from ``request.json()`` and then converts that to the declared
    type; given a value of that type already, msgspec's conversion passes it through. For a
    1,000-event usage batch this second decode was a fifth of the server's time. The cache is
    litestar's own per-request slot (``ScopeState.json``), the one ``request.json()`` fills.
    """
    request._connection_state.json = body


def _check_json_media_type(content_type: str | None) -> None:
    """A body must be JSON; a missing Content-Type is taken as JSON (``curl -d`` users)."""
    if content_type is None:
        return
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise UnsupportedMediaType(f"send the body as application/json, not {media_type!r}")


def check_free_form(value: Any, path: str) -> None:
    """Apply :func:`check_metadata` to every ``metadata`` member of a decoded body."""
    if isinstance(value, msgspec.Struct):
        for name in _fields_to_walk(type(value)):
            member, where = getattr(value, name), f"{path}.{name}" if path else name
            if name == _METADATA_FIELD and isinstance(member, dict):
                check_metadata(where, member)
            else:
                check_free_form(member, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_free_form(item, f"{path}[{index}]")


@lru_cache(maxsize=256)
def _fields_to_walk(struct_type: type[msgspec.Struct]) -> tuple[str, ...]:
    """The fields of ``struct_type`` that are ``metadata`` or may hold a Struct or a list
    (where a ``metadata`` could be): a subject or a usage (strings, integers) is skipped
    instead of walked on every request."""
    return tuple(
        f.name
        for f in msgspec.structs.fields(struct_type)
        if f.name == _METADATA_FIELD or _may_hold_structs(f.type)
    )


def _may_hold_structs(annotation: Any) -> bool:
    if annotation is Any or annotation is object:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _may_hold_structs(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_may_hold_structs(member) for member in get_args(annotation))
    if origin is not None:
        return origin in (list, tuple)
    if isinstance(annotation, type):
        return issubclass(annotation, msgspec.Struct | list | tuple)
    return annotation is not msgspec.UnsetType  # Any, a type variable: walk it


def check_metadata(field: str, metadata: dict[str, Any]) -> None:
    """Refuse ``metadata`` beyond the depth, key-count or size limits.

    Raises:
        ValidationFailed: Naming ``field``.
    """
    keys = 0
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(metadata, 1)]
    while stack:  # iterative: the point is to refuse depth, not to recurse into it
        node, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise ValidationFailed(
                FieldError(field, f"must be nested at most {MAX_METADATA_DEPTH} levels deep")
            )
        children = node.values() if isinstance(node, dict) else node
        keys += len(node) if isinstance(node, dict) else 0
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    if keys > MAX_METADATA_KEYS:
        raise ValidationFailed(FieldError(field, f"must have at most {MAX_METADATA_KEYS} keys"))
    if len(msgspec.json.encode(metadata)) > MAX_METADATA_BYTES:
        raise ValidationFailed(
            FieldError(field, f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
        )


def _members(body_type: Any) -> tuple[Any, ...]:
    if get_origin(body_type) in (Union, types.UnionType):
        return get_args(body_type)
    return (body_type,)


@lru_cache(maxsize=256)
def _decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(body_type, strict=True)


def decode_strict(raw: bytes, body_type: Any) -> Any:
    """Decode ``raw`` JSON into ``body_type`` with no type coercion.

    An empty body is None when the body is optional.

    Raises:
        ValidationFailed: Not JSON, or not of ``body_type``, with the offending fields.
    """
    if not raw.strip() and type(None) in _members(body_type):
        return None
    try:
        return _decoder(body_type).decode(raw)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: catch it first
        raise ValidationFailed(*_field_errors(raw, body_type, str(exc))) from None
    except msgspec.DecodeError as exc:
        raise ValidationFailed(FieldError("body", f"not valid JSON: {exc}")) from None
    except UnicodeDecodeError:  # msgspec raises it for bad bytes inside a free-form string
        raise ValidationFailed(FieldError("body", "not valid UTF-8")) from None
    except RecursionError:  # arrays or objects nested past msgspec's depth limit
        raise ValidationFailed(FieldError("body", "nested too deeply")) from None


def _field_errors(raw: bytes, body_type: Any, text: str) -> list[FieldError]:
    """msgspec reports the first problem only; add every other missing or unknown top field."""
    located = _LOCATED.match(text)
    message = located["message"] if located else text
    path = ((located and located["path"]) or "").lstrip(".")
    if named := _NAMED.match(message):
        path = f"{path}.{named['name']}" if path else named["name"]
        message = _KIND_MESSAGE[named["kind"]]
    first = FieldError(path or "body", message)
    return [first, *(e for e in _top_level_problems(raw, body_type) if e.field != first.field)]


def _top_level_problems(raw: bytes, body_type: Any) -> list[FieldError]:
    struct_types = [
        t for t in _members(body_type) if isinstance(t, type) and issubclass(t, msgspec.Struct)
    ]
    try:
        given = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return []
    if len(struct_types) != 1 or not isinstance(given, dict):
        return []
    fields = msgspec.structs.fields(struct_types[0])
    known = {f.encode_name for f in fields}
    problems = [
        FieldError(f.encode_name, _KIND_MESSAGE["missing required"])
        for f in fields
        if f.required and f.encode_name not in given
    ]
    if struct_types[0].__struct_config__.forbid_unknown_fields:
        problems += [
            FieldError(str(name), _KIND_MESSAGE["contains unknown"])
            for name in given
            if name not in known
        ]
    return problems
