"""Fast construction of the wire records the interpreter emits.

`ActionRecord` and `OutcomeRecord` are pydantic models; validating each one the interpreter
builds would cost more than the rest of a step. The interpreter only ever fills them with values
of the right types, so it builds them as pydantic's `model_construct` does, minus its per-field
loop: `trusted(Model, values)` with every field given. `tests/unit/test_interpreter_records.py`
checks that such records validate and serialize exactly like validated ones.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__
_new = object.__new__
# BaseModel's slots, set through their descriptors (no attribute lookup by name per record).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of `cls` holding `values` (every field, right types) without validation."""
    m = _new(cls)
    _set(m, "__dict__", values)
    _set_fields_set(m, set(values))
    _set_extra(m, None)
    _set_private(m, None)
    return m


def check_trusted(cls: type[BaseModel]) -> None:
    """Fail fast if a model gained what `trusted` cannot build (post-init hooks, root models)."""
    if cls.__pydantic_post_init__ or cls.__pydantic_root_model__ or cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__} cannot be built with records.trusted()")
