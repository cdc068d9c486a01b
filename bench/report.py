"""The README's benchmark table, from the latest `bench/results/bench-*.json`.

    .venv/bin/python -m bench.report [RESULTS.json]

Rewrites the section between `<!-- bench:start -->` and `<!-- bench:end -->` in README.md (adds
the markers at the end of the file the first time); the rest of the README is left alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def latest() -> Path | None:
    """The newest result file of a whole `make bench` run (not `--quick` or `--only` ones)."""
    for path in sorted(RESULTS.glob("bench-*.json"), reverse=True):
        try:
            res = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not res.get("partial"):
            return path
    return None


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _n(x: Any, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, float) and x < 10:
        return f"{x:.2f}{unit}"
    return f"{x:,.0f}{unit}"


def _ratio(x: float | None) -> str:
    """Two significant digits: a ratio of 0.004 is not 0.00."""
    return "—" if x is None else f"{x:.2g}" if x < 0.1 else f"{x:.2f}"


def _check(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def table(res: dict[str, Any]) -> str:
    """The Markdown section for one result file."""
    ph, r = res.get("phases", {}), res.get("ratios", {})
    m = res.get("machine", {})
    c100 = _get(ph, "c", "c100", "ingested_events_per_s")
    c10 = _get(ph, "c", "c10", "ingested_events_per_s")
    b = _get(ph, "b", "passthrough", "ingested_events_per_s")
    d100 = _get(ph, "d", "d100", "events_per_s")
    d10 = _get(ph, "d", "d10", "events_per_s")
    e = _get(ph, "e", "event_to_readable") or {}
    f = ph.get("f", {})
    sim = _get(ph, "c", "simulate") or {}
    rows = [
        ("a. Kafka produce, Java client", _n(_get(ph, "a", "java_produce", "events_per_s"), " ev/s"), "", ""),
        ("a. Kafka consume, Java client", _n(_get(ph, "a", "java_consume", "events_per_s"), " ev/s"), "", ""),
        ("a. Kafka produce, `bench.loadgen` into the Java producer",
         _n(_get(ph, "a", "loadgen_java_produce", "events_per_s"), " ev/s"), "", ""),
        ("a. Kafka produce, `bench.loadgen` with kafka-python (2 processes)",
         _n(_get(ph, "a", "python_produce_2p", "events_per_s"), " ev/s"), "", ""),
        ("a. Kafka consume, kafka-python", _n(_get(ph, "a", "python_consume", "events_per_s"), " ev/s"), "", ""),
        ("a. load generator to a file", _n(_get(ph, "a", "loadgen_file", "events_per_s"), " ev/s"), "≥ 200,000",
         _check(None if _get(ph, "a", "loadgen_file", "events_per_s") is None
                else _get(ph, "a", "loadgen_file", "events_per_s") >= 200_000)),
        ("b. `run` job, pass-through operator", _n(b, " ev/s"), "", ""),
        ("c. `run` job, library journeys, 100% relevant", _n(c100, " ev/s"), "≥ 20,000 and ≥ 50% of b",
         _check(None if c100 is None else c100 >= 20_000 and (r.get("c100_over_b") or 0) >= 0.5)),
        ("c. `run` job, 10% relevant (ingested)", _n(c10, " ev/s"), "≥ 100,000",
         _check(None if c10 is None else c10 >= 100_000)),
        ("c. `run` job, 100% relevant, every record read through Flink state",
         _n(_get(ph, "c", "c100_no_record_cache", "ingested_events_per_s"), " ev/s"), "", ""),
        ("c. `simulate` over a file (whole job)", _n(_get(sim, "journeys", "events_per_s"), " ev/s"), "", ""),
        ("c. `simulate`, pass-through (whole job)", _n(_get(sim, "passthrough", "events_per_s"), " ev/s"), "", ""),
        ("d. Python + Redis baseline, 100% relevant", _n(d100, " ev/s"), "", ""),
        ("d. Python + Redis baseline, 10% relevant", _n(d10, " ev/s"), "", ""),
        ("e. latency p50 / p95 / p99 at half of c",
         f"{_n(e.get('p50_ms'))} / {_n(e.get('p95_ms'))} / {_n(e.get('p99_ms'))} ms", "p99 ≤ 1,000 ms",
         _check(None if e.get("p99_ms") is None else e["p99_ms"] <= 1000)),
        (f"f. state per waiting user ({_n(f.get('users'))} users, RocksDB checkpoint)",
         _n(f.get("state_bytes_per_user"), " B"), "≤ 300 B",
         _check(None if f.get("state_bytes_per_user") is None else f["state_bytes_per_user"] <= 300)),
        ("f. one waiting user's record, encoded (uncompressed)", _n(f.get("record_bytes_per_user"), " B"), "", ""),
        ("f. checkpoint after the ingest", f"{_n(_get(f, 'checkpoint', 'full_state_bytes'))} B in "
         f"{_n(_get(f, 'checkpoint', 'duration_ms'))} ms", "", ""),
        ("f. timers draining, all due at once", _n(f.get("timers_per_s"), " /s"), "≥ 20,000 /s",
         _check(None if f.get("timers_per_s") is None else f["timers_per_s"] >= 20_000)),
        ("f. JVM memory (RSS) at the checkpoint", _n(_get(f, "jvm_rss_mb", "at_checkpoint"), " MB"), "", ""),
    ]
    ratio_rows = [
        ("c100 / a (Java consume)", r.get("c100_over_a_consume"), None),
        ("c10 / a (Java consume)", r.get("c10_over_a_consume"), None),
        ("c100 / b = `run` / pass-through (issue 4)", r.get("c100_over_b"), 0.5),
        ("`simulate` / pass-through (issue 4)", r.get("simulate_over_passthrough"), None),
        ("c100 / d100", r.get("c100_over_d100"), 10),
        ("c10 / d10", r.get("c10_over_d10"), 10),
    ]
    lines = [
        START,
        f"Latest `make bench` ({res.get('run_id', '?')}, {res.get('total_s', 0):,.0f} s; "
        f"{m.get('cores', '?')} cores, {m.get('cpu_model', '?')}, load average at start "
        f"{', '.join(str(x) for x in m.get('load_average_at_start', []))}; "
        f"Flink {m.get('apache-flink', '?')}, parallelism 1, thread mode). "
        f"Raw figures, settings and profiles: `bench/results/bench-{res.get('run_id', '?')}.json`.",
        "",
        "| measure | result | target | |",
        "| --- | --- | --- | --- |",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "| ratio (same run) | value | target | |",
        "| --- | --- | --- | --- |",
        *[f"| {a} | {_ratio(v)} | {'' if t is None else f'≥ {t}'} | "
          f"{'' if t is None else _check(None if v is None else v >= t)} |" for a, v, t in ratio_rows],
    ]
    if f.get("extrapolated_1m"):
        x = f["extrapolated_1m"]
        lines += ["", f"f was measured at {f['users']:,} users; at 1,000,000 (extrapolated, not measured): "
                      f"checkpoint {x['checkpoint_bytes'] / 1e6:,.0f} MB, ingest {_n(x['ingest_s'])} s, "
                      f"drain {_n(x['drain_s'])} s."]
    share = _get(res, "analysis", "journey_operator_profile_share")
    if share:
        lines += ["", "Where the journey operator's Python time goes (cProfile, `analysis` in the JSON): "
                  + ", ".join(f"{k} {v:.0%}" for k, v in share.items()) + ". "
                  "The task running it is the bottleneck in every c run (busy 1000 ms/s; the source back-pressured)."]
    if res.get("errors"):
        lines += ["", "Phases that failed in this run: " + ", ".join(sorted(res["errors"])) + "."]
    lines.append(END)
    return "\n".join(lines)


def update_readme(path: Path | None = None) -> bool:
    """Rewrite the README's benchmark section from `path` (default: the latest results)."""
    path = path or latest()
    if path is None or not README.exists():
        return False
    section = table(json.loads(path.read_text()))
    text = README.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + section + "\n"
    README.write_text(text)
    return True


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.report [RESULTS.json]`."""
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0]) if args else None
    print("README updated" if update_readme(path) else "no results to report")


if __name__ == "__main__":
    main()
