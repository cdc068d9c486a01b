from pathlib import Path

import pytest

from jobs.errors import SpecError, ValidationFailed
from jobs.spec.loader import journey_from_yaml, read_all, read_documents

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"


def test_folder_is_read_recursively_and_classified():
    docs = read_all([DATA / "valid"])
    kinds = {(d.name, d.kind) for d in docs}
    assert ("cart-abandonment", "journey") in kinds
    assert ("cart_reminder", "template") in kinds


def test_yaml_12_scalars(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 10:00\nb: on\nc: no\nd: true\ne: 2026-01-01\nf: 1.5\ng: 3\n")
    (doc,) = read_documents(path)
    assert doc.data == {"a": "10:00", "b": "on", "c": "no", "d": True, "e": "2026-01-01", "f": 1.5, "g": 3}
    assert doc.line_of(("g",)) == 7


def test_duplicate_node_is_an_error(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("id: j\nnodes:\n  a: {type: exit}\n  a: {type: exit}\n")
    (doc,) = read_documents(path)
    assert [str(p) for p in doc.problems] == [
        f"{path}:4: journey j, node a: node 'a' is written twice (the second would silently replace the first)"
    ]


def test_unquoted_question_mark_in_flow_mapping_gets_a_hint(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("x: {next: opened?}\n")
    with pytest.raises(SpecError, match="quote text that contains"):
        read_documents(path)


def test_missing_path():
    with pytest.raises(SpecError, match="no such file"):
        read_all(["/nonexistent/journeys"])


def test_json_documents(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"id": "t", "channel": "sms", "body": "hi", "body": "again"}')
    (doc,) = read_documents(path)
    assert doc.kind == "template"
    assert "written twice" in doc.problems[0].message


def test_journey_from_yaml_reports_readable_problems():
    text = """
id: j
name: J
entry: {event: a}
start: w
nodes:
  w: {type: wait, duraton: 1h, next: done}
  done: {type: exit}
"""
    with pytest.raises(ValidationFailed) as info:
        journey_from_yaml(text)
    messages = [str(p) for p in info.value.problems]
    assert "<journey>:7: journey j, node w: field 'duraton' is not allowed (did you mean 'duration'?)" in messages


def test_a_file_named_twice_is_read_once(tmp_path) -> None:
    from jobs.spec.loader import iter_files

    (tmp_path / "templates").mkdir()
    (tmp_path / "j.yaml").write_text("id: x\n")
    (tmp_path / "templates" / "t.yaml").write_text("id: t\n")
    files = list(iter_files([tmp_path, tmp_path / "templates", tmp_path / "j.yaml"]))
    assert sorted(f.name for f in files) == ["j.yaml", "t.yaml"]
