"""The message templates a dispatcher renders: `templates/<id>.yaml`, reloaded when files change.

Built-in channels' templates are parsed with `jobs.spec.template`; a plugin channel's with the
template model its plugin declares. Problems in one file are logged and that file is skipped, so
one broken template never stops the other channels; an action naming it goes to the dead-letter
topic with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from connectors.errors import TemplateMissing
from jobs.errors import JourneysError
from jobs.spec.loader import SUFFIXES, read_documents, template_from_document
from jobs.spec.template import TEMPLATE_MODELS, TemplateBase

log = logging.getLogger(__name__)


class TemplateStore:
    """Templates by id, read from one folder; `get` re-reads the folder when a file changed.

    `models` maps plugin channel names to their template models (built-ins are always known).
    """

    def __init__(
        self,
        folder: Path | None,
        *,
        models: Mapping[str, type[TemplateBase]] | None = None,
        reload_every_s: float = 5.0,
    ) -> None:
        self.folder = folder
        self.models = dict(models or {})
        self.reload_every_s = reload_every_s
        self._templates: dict[str, TemplateBase] = {}
        self._problems: dict[str, str] = {}
        self._signature: tuple[tuple[str, int, int], ...] = ()
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reload(force=True)

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        if self.folder is None or not self.folder.is_dir():
            return ()
        files = sorted(p for p in self.folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)

    def reload(self, *, force: bool = False) -> bool:
        """Re-read the folder if any file changed (or `force`); True if templates were reloaded."""
        with self._lock:
            signature = self._scan()
            self._checked = time.monotonic()
            if not force and signature == self._signature:
                return False
            templates: dict[str, TemplateBase] = {}
            problems: dict[str, str] = {}
            for path_text, _, _ in signature:
                try:
                    docs = read_documents(Path(path_text))
                except JourneysError as exc:
                    problems[path_text] = str(exc)
                    continue
                for doc in docs:
                    if doc.kind != "template" and not (isinstance(doc.data, dict) and "channel" in doc.data):
                        continue
                    try:
                        template = self._parse(doc)
                    except (JourneysError, ValidationError) as exc:
                        problems[f"{path_text}#{doc.index}"] = str(exc)
                        continue
                    templates[template.id] = template
            for where, why in problems.items():
                log.warning("template file %s skipped: %s", where, why)
            self._templates, self._problems, self._signature = templates, problems, signature
            return True

    def _parse(self, doc: object) -> TemplateBase:
        data = getattr(doc, "data", None)
        channel = data.get("channel") if isinstance(data, dict) else None
        if isinstance(channel, str) and channel not in TEMPLATE_MODELS and channel in self.models:
            return self.models[channel].model_validate(data)
        return template_from_document(doc)  # type: ignore[arg-type]

    def _maybe_reload(self) -> None:
        if self.reload_every_s > 0 and time.monotonic() - self._checked >= self.reload_every_s:
            self.reload()

    def get(self, template_id: str, channel: str | None = None) -> TemplateBase:
        """The template `template_id` (for `channel`, when given); raises TemplateMissing."""
        self._maybe_reload()
        template = self._templates.get(template_id)
        if template is None:
            raise TemplateMissing(f"no template {template_id!r} in {self.folder}")
        if channel is not None and template.channel != channel:
            raise TemplateMissing(f"template {template_id!r} is for channel {template.channel}, not {channel}")
        return template

    def ids(self) -> list[str]:
        """Every template id known now."""
        self._maybe_reload()
        return sorted(self._templates)

    @property
    def problems(self) -> dict[str, str]:
        """Files (or documents) skipped at the last reload, with the reason."""
        return dict(self._problems)
