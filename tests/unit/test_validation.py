from pathlib import Path

import pytest

from jobs.errors import Severity, ValidationFailed
from jobs.spec.loader import load_journey
from jobs.validation import check_journey, load_bundle, validate_paths

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"
VALID = DATA / "valid"
INVALID = DATA / "invalid"
TEMPLATES = VALID / "templates"


def messages(*paths) -> list[str]:
    return [str(p) for p in validate_paths([*paths, TEMPLATES]).problems]


def test_valid_folder_has_no_errors():
    report = validate_paths([VALID])
    assert report.ok
    assert {j.id for j in report.journeys} == {"cart-abandonment", "unreachable", "weekly-loop"}
    assert set(report.templates) == {"cart_reminder", "cart_sms", "cart_push"}
    # Only the deliberately unreachable node warns.
    assert [(p.journey, p.node, p.severity) for p in report.problems] == [("unreachable", "orphan", Severity.WARNING)]


def test_unknown_field_message_is_the_documented_one():
    file = INVALID / "unknown_field.yaml"
    assert messages(file) == [
        f"{file}:7: journey cart-abandonment, node wait_1h: field 'duraton' is not allowed (did you mean 'duration'?)"
    ]


def test_unknown_kind():
    (msg,) = messages(INVALID / "unknown_kind.yaml")
    assert "node w: unknown node type 'wiat' (did you mean 'wait'?)" in msg


def test_dangling_next_and_its_consequences():
    problems = validate_paths([INVALID / "dangling.yaml"]).problems
    errors = [str(p) for p in problems if p.is_error]
    assert len(errors) == 1
    assert errors[0].endswith("node w: field 'next': 'dne' is not a node (did you mean 'done'?)")
    assert any(p.node == "done" and "not reachable" in p.message for p in problems)


def test_cycle_without_wait_is_an_error_and_with_a_wait_is_fine():
    (msg,) = messages(INVALID / "cycle_without_wait.yaml")
    assert "cycle check -> bump -> check has no wait" in msg
    assert validate_paths([VALID / "loop_with_wait.yaml", TEMPLATES]).problems == []


def test_bad_durations_and_times():
    found = messages(INVALID / "bad_times.yaml")
    assert len(found) == 3
    assert "node w: field 'duration': '90 minutes' is not a duration" in found[0]
    assert "node morning: field 'at': '7pm' is not a time of day" in found[1]
    assert "field 'days[1]': 'fry' is not one of mon, tue, wed, thu, fri, sat, sun (did you mean 'fri'?)" in found[2]


def test_split_weights_must_be_positive():
    found = messages(INVALID / "bad_split.yaml")
    assert [m.split("node ab: ")[1] for m in found] == [
        "field 'variants[0].weight' must be greater than 0 (got 0)",
        "field 'variants[1].weight' must be greater than 0 (got -5)",
    ]


def test_unknown_and_wrong_channel_templates_including_fallback():
    found = messages(INVALID / "bad_templates.yaml")
    assert [m.split(": ", 1)[1] for m in found] == [
        "journey bad-templates, node email_1: field 'template': unknown template 'cart_remindr'"
        " (did you mean 'cart_reminder'?)",
        "journey bad-templates, node sms_1: field 'template': template 'cart_reminder' is an email template,"
        " but the node channel is sms",
        "journey bad-templates, node sms_1: field 'fallback.template': template 'cart_push' is a push template,"
        " but the fallback channel is email",
    ]


def test_templates_missing_entirely_get_a_hint():
    (msg,) = [str(p) for p in validate_paths([VALID / "cart.yaml"]).errors][:1]
    assert "unknown template 'cart_reminder' (no templates were given; pass the templates folder too)" in msg


def test_counters_of_unknown_form():
    found = messages(INVALID / "bad_counters.yaml")
    assert len(found) == 3
    assert "cases[0].when.field': counter 'counters.order.completed'" in found[0]
    assert "365d is longer than the 90d" in found[1]
    assert "(did you mean 'counters'?)" in found[2]


def test_bad_timezone():
    (msg,) = messages(INVALID / "bad_timezone.yaml")
    assert "field 'tz': unknown timezone 'Europe/Pariss'" in msg


def test_template_problems_are_all_reported():
    found = [str(p) for p in validate_paths([INVALID / "bad_template.yaml"]).problems]
    assert any("field 'subjet' is not allowed" in m for m in found)
    assert any("field 'body': template syntax error" in m for m in found)


def test_all_invalid_files_at_once():
    report = validate_paths([INVALID, TEMPLATES])
    files = {Path(p.file).name for p in report.errors}
    assert files == {p.name for p in INVALID.iterdir()}


def test_unreadable_and_missing_paths_are_problems(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n")
    report = validate_paths([broken, tmp_path / "nope"])
    assert len(report.errors) == 2
    assert "not valid YAML" in report.errors[0].message
    assert "no such file or folder" in report.errors[1].message


def test_unclassifiable_document(tmp_path):
    odd = tmp_path / "odd.yaml"
    odd.write_text("hello: world\n")
    (problem,) = validate_paths([odd]).problems
    assert "cannot tell whether this is a journey" in problem.message


def test_duplicate_ids(tmp_path):
    text = (VALID / "cart.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    report = validate_paths([tmp_path, TEMPLATES])
    assert ["also defined in" in p.message for p in report.errors] == [True]


def test_entry_where_cannot_read_journey_fields(tmp_path):
    path = tmp_path / "j.yaml"
    path.write_text(
        "id: j\nname: J\nentry: {event: a, where: {field: journey.entry, op: gt, value: 1}}\n"
        "start: done\nnodes: {done: {type: exit}}\n"
    )
    (problem,) = validate_paths([path]).problems
    assert problem.field == "entry.where"
    assert "journey fields do not exist before the user enters" in problem.message


def test_wait_for_match_node_must_exist(tmp_path):
    path = tmp_path / "j.yaml"
    path.write_text(
        "id: j\nname: J\nentry: {event: a}\nstart: w\nnodes:\n"
        "  w: {type: wait_for, event: message.opened, match: {node: emial}, timeout: 1d,"
        " on_event: done, on_timeout: done}\n"
        "  email: {type: message, channel: email, template: cart_reminder, next: w}\n"
        "  done: {type: exit}\n"
    )
    errors = [p for p in validate_paths([path, TEMPLATES]).errors]
    assert [p.message for p in errors] == ["field 'match.node': 'emial' is not a node (did you mean 'email'?)"]


def test_check_journey_without_files():
    journey = load_journey(VALID / "cart.yaml")
    assert check_journey(journey, load_bundle([TEMPLATES]).templates) == []
    assert [p.field for p in check_journey(journey, {})] == ["template", "template", "fallback.template", "template"]


def test_load_bundle_raises_with_every_problem():
    with pytest.raises(ValidationFailed) as info:
        load_bundle([INVALID, TEMPLATES])
    assert len(info.value.errors) >= 10


def test_malformed_shapes_never_leak_pydantic_text(tmp_path):
    path = tmp_path / "j.yaml"
    path.write_text(
        "id: j\nname: J\nentry: {event: a}\nstart: w\nnodes:\n"
        "  w: 5\n"
        "  x: {type: null}\n"
        "  y: {type: wait_for, event: e, match: {when: [1]}, timeout: 1d, on_event: z, on_timeout: z}\n"
        "  m: {type: message, channel: {a: 1}, template: cart_reminder, fallback: {channel: email, template: t, op: 1},"
        " next: z}\n"
        "  z: {type: exit}\n"
    )
    found = [str(p) for p in validate_paths([path, TEMPLATES]).errors]
    text = "\n".join(found)
    assert "Input should" not in text and "pydantic" not in text and "Value error" not in text
    assert "node w: a node should be a mapping with a 'type' and its fields, got 5" in text
    assert "node x: field 'type' must be one of wait," in text
    assert "node y: field 'match.when' should be text or a number or true or false, got [1]" in text
    assert "node m: field 'fallback.op' is not allowed (allowed: channel, template)" in text
    assert "is a email" not in text and "node channel is {" not in text
