import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from jobs.commands import language

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    language.register(app)
    return app


def run(app, *args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def test_validate_ok_and_warnings_exit_0(app):
    result = run(app, "validate", DATA / "valid")
    assert result.exit_code == 0, result.output
    assert "warning: node is not reachable" in result.stdout


def test_validate_errors_exit_1_and_name_everything(app):
    result = run(app, "validate", DATA / "invalid" / "unknown_field.yaml", DATA / "valid" / "templates")
    assert result.exit_code == 1
    assert (
        "unknown_field.yaml:7: journey cart-abandonment, node wait_1h: field 'duraton' is not allowed "
        "(did you mean 'duration'?)" in result.stdout
    )
    assert "Traceback" not in result.output and "pydantic" not in result.output


def test_paths_from_the_environment(app):
    result = run(app, "validate", "--quiet", env={"JOURNEYS_PATHS": str(DATA / "valid")})
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_compile_json_and_explain(app, tmp_path):
    plan_file = tmp_path / "plan.json"
    result = run(app, "compile", DATA / "valid" / "cart.yaml", DATA / "valid" / "templates")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["dispatch"]["cart.updated"]["entries"][0]["journey_id"] == "cart-abandonment"
    result = run(app, "compile", "--explain", "-o", plan_file, DATA / "valid")
    assert result.exit_code == 0, result.output
    assert "event types kept" in result.stdout
    assert json.loads(plan_file.read_text())["fingerprint"]


def test_compile_refuses_invalid_input(app):
    result = run(app, "compile", DATA / "invalid" / "dangling.yaml")
    assert result.exit_code == 1
    assert "'dne' is not a node" in result.stdout


def test_schema(app):
    journey = json.loads(run(app, "schema").stdout)
    assert "WaitNode" in journey["$defs"] and journey["title"] == "Journey"
    template = json.loads(run(app, "schema", "--template").stdout)
    assert "EmailTemplate" in template["$defs"]


def test_plugin_module_adds_a_node_kind(app, tmp_path, monkeypatch):
    from jobs.spec.nodes import node_kinds, unregister_node_kind

    monkeypatch.syspath_prepend(str(DATA / "plugins"))
    journey = tmp_path / "j.yaml"
    journey.write_text(
        "id: j\nname: J\nentry: {event: a}\nstart: t\n"
        "nodes: {t: {type: crm_tag, tag: vip, next: done}, done: {type: exit}}\n"
    )
    try:
        assert "crm_tag" not in node_kinds()
        assert run(app, "validate", journey).exit_code == 1
        result = run(app, "validate", "--plugin", "crm_plugin", journey)
        assert result.exit_code == 0, result.output
        assert "CrmTag" in json.loads(run(app, "schema", env={"JOURNEYS_PLUGINS": "crm_plugin"}).stdout)["$defs"]
        result = run(app, "validate", "--plugin", "no_such_plugin_module", journey)
        assert result.exit_code != 0
    finally:
        unregister_node_kind("crm_tag")
