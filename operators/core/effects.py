"""What one interpreter step returns: the new state and typed effects for the adapter to carry out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.spec.records import ActionRecord, OutcomeRecord
from state.record import UserState


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """An `update_profile` node changed the user's profile; sync it to the profile store."""

    user_id: str
    journey_id: str
    node_id: str
    set: dict[str, Any]
    unset: tuple[str, ...]
    increment: dict[str, float]
    ts: datetime


@dataclass(frozen=True, slots=True)
class Erasure:
    """`user.deleted` was processed: the adapter erases the user everywhere else too (Redis, inbox)."""

    user_id: str
    ts: datetime


@dataclass(slots=True)
class Step:
    """The result of `Interpreter.on_event` / `on_timer`.

    Attributes:
      state: the user's record after the step; None means "delete the user's state".
      changed: whether `state` differs from what was read (False: skip the write).
      actions: action records, in order, for `actions.<channel>` topics.
      outcomes: outcome records, in order, for the `outcomes` topic.
      profile_updates: profile changes made by `update_profile` nodes.
      erasure: set when the user was erased in this step.
      wakeup: the one event-time timer the adapter should have registered for this user after
        the step (None: no timer). Replaces any earlier one.
    """

    state: UserState | None
    changed: bool = False
    actions: list[ActionRecord] = field(default_factory=list)
    outcomes: list[OutcomeRecord] = field(default_factory=list)
    profile_updates: list[ProfileUpdate] = field(default_factory=list)
    erasure: Erasure | None = None
    wakeup: datetime | None = None
