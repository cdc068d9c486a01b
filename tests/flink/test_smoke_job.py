"""The smoke job on the real PyFlink mini-cluster, with file source and sink (no Kafka)."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.settings import Settings


def test_counts_every_user_once_at_end_of_input(tmp_path: Path, settings: Settings) -> None:
    from pyflink.common.serialization import Encoder
    from pyflink.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

    from jobs.flink_env import create_env
    from jobs.smoke import build_count_job

    lines = [json.dumps({"event_id": str(i), "user_id": f"u{i % 7}"}) for i in range(700)]
    lines += ["not json", json.dumps({"user_id": 42})]  # both counted under the empty user
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")

    local = settings.model_copy(update={"flink": settings.flink.model_copy(update={"checkpoint_interval_ms": 500})})
    env = create_env(local, state_backend="hashmap")
    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), str(tmp_path / "in.jsonl")
    ).build()
    sink = FileSink.for_row_format(str(tmp_path / "out"), Encoder.simple_string_encoder()).build()
    build_count_job(env, source, sink)
    env.execute("smoke-file")

    rows = [
        json.loads(line)
        for part in (tmp_path / "out").rglob("part-*")
        for line in part.read_text().splitlines()
    ]
    counts = {row["user_id"]: row["count"] for row in rows}
    assert len(rows) == len(counts) == 8
    assert counts == {**{f"u{i}": 100 for i in range(7)}, "": 2}
