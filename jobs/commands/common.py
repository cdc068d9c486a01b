"""Options and helpers shared by every command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.settings import Settings

SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        envvar="JOURNEYS_SETTINGS",
        help="settings file (YAML); every key can also be set as JOURNEYS_<SECTION>__<KEY>",
        show_default=False,
    ),
]


def load_settings(path: Path | None) -> Settings:
    """The process's settings, from the file given (if any) and the environment."""
    return Settings.load(path)
