"""Errors of the state layer."""

from __future__ import annotations


class StateError(Exception):
    """Base of every error the state layer raises on purpose."""


class StateDecodeError(StateError):
    """Stored bytes are not a state record this code can read (corrupt, or not a record at all)."""
