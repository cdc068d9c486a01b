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


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of `cls` holding `values` (every field, right types) without validation."""
    m = cls.__new__(cls)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def check_trusted(cls: type[BaseModel]) -> None:
    """Fail fast if a model gained what `trusted` cannot build (post-init hooks, root models)."""
    if cls.__pydantic_post_init__ or cls.__pydantic_root_model__ or cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__} cannot be built with records.trusted()")
