"""`journeys template preview ID --user-file FILE`: a template rendered for a sample user."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from jobs.commands.common import SettingsOption, load_settings

template_app = typer.Typer(help="Message templates.")


def _sample(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} must hold a mapping")
    return data


@template_app.command("preview")
def preview(
    template_id: Annotated[str, typer.Argument(metavar="ID", help="template id")],
    user_file: Annotated[
        Path,
        typer.Option(
            envvar="JOURNEYS_TEMPLATE_USER_FILE",
            help="YAML/JSON with `profile` (or `traits`), optionally `event` (or `props`), `journey`, `user_id`; "
            "a mapping without those keys is taken as the profile",
        ),
    ],
    templates: Annotated[
        Path | None,
        typer.Option(envvar="JOURNEYS_TEMPLATES", help="templates folder (default: dispatch.templates_dir)"),
    ] = None,
    settings: SettingsOption = None,
) -> None:
    """Render every field of template ID for the sample user; exit 1 naming a missing value."""
    from connectors.dispatch.plugin import load_channel_plugins
    from connectors.dispatch.render import RenderContext, TemplateRenderer
    from connectors.dispatch.templates import TemplateStore
    from connectors.errors import DispatchError
    from jobs.spec.records import ActionRecord

    conf = load_settings(settings)
    plugins = load_channel_plugins()
    models = {n: p.template_model for n, p in plugins.items() if p.template_model is not None}
    store = TemplateStore(templates or conf.dispatch.templates_dir, models=models, reload_every_s=0)
    sample = _sample(user_file)
    keys = {"profile", "traits", "event", "props", "journey", "user_id"}
    if not keys & sample.keys():
        sample = {"profile": sample}
    profile = sample.get("profile", sample.get("traits")) or {}
    try:
        template = store.get(template_id)
        now = datetime.now(UTC)
        action = ActionRecord(
            action_id=f"preview:1:{sample.get('user_id', 'preview-user')}:preview:1",
            journey_id=str((sample.get("journey") or {}).get("id", "preview")),
            version=1,
            node_id="preview",
            user_id=str(sample.get("user_id", "preview-user")),
            channel=template.channel,
            template=template.id,
            vars={"profile": profile, "event": sample.get("event", sample.get("props")) or {},
                  "journey": sample.get("journey") or {}},
            ts=now,
            emitted_at=now,
        )
        plugin = plugins.get(template.channel)
        extra = plugin.template_variables(action, conf) if plugin else {}
        rendered = TemplateRenderer().render(template, RenderContext.from_action(action, **extra))
    except DispatchError as exc:
        typer.echo(f"journeys: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"template {template.id} (channel {template.channel}, version {template.version})")
    for name, text in rendered.fields.items():
        typer.echo(f"--- {name}")
        typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add the `template` group to the CLI."""
    app.add_typer(template_app, name="template")
