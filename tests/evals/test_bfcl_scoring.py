"""Decoding result files like the official runner, data sources, scoring lines, the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from voice_agent import ConfigError
from voice_agent.evals.bfcl import (
    DecodeError,
    decode_result,
    leaderboard_summary,
    load_category,
    score_entry,
    score_result_lines,
)


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("[f(a=1)]", [{"f": {"a": 1}}]),
        ("```\nf(a=1), g(b='x')\n```", [{"f": {"a": 1}}, {"g": {"b": "x"}}]),
        (
            "[m.n.f(t=(1, 2), e=..., neg=-2, u=x, c=g(), k=g(y=1), s=a[0])]",
            [
                {
                    "m.n.f": {
                        "t": (1, 2),
                        "e": "...",
                        "neg": -2,
                        "u": "x",
                        "c": "g()",
                        "k": {"g": {"y": 1}},
                        "s": "a[0]",
                    }
                }
            ],
        ),
        ("[f(1, a=2)]", [{"f": {"a": 2}}]),
        ("[f(x=2*3+1, y='a'*3)]", [{"f": {"x": 7, "y": "aaa"}}]),
        ("'[f(a=1)]'", None),
        # a call inside arguments is read as its source text, never run
        (
            "[f(x=__import__('os').system('touch /tmp/x'))]",
            [{"f": {"x": "__import__('os').system('touch /tmp/x')"}}],
        ),
    ],
)
def test_prompt_decoding_follows_the_official_decoder(text: str, decoded: Any) -> None:
    if decoded is None:
        with pytest.raises(DecodeError):
            decode_result(text)
    else:
        assert decode_result(text) == decoded


@pytest.mark.parametrize(
    "text",
    [
        "I cannot help with that.",
        "[f(x=lambda: 1)]",
        "[f(x={1, 2})]",
        "[f(x=[i for i in y])]",
        "[f(x=2**100000)]",
    ],
)
def test_prompt_decoding_refuses_what_needs_running_code(text: str) -> None:
    with pytest.raises(DecodeError):
        decode_result(text)


def test_fc_decoding() -> None:
    assert decode_result([{"f": '{"a": 1}'}]) == [{"f": {"a": 1}}]
    for bad in ([{"f": {"a": 1}}], [{}], ["f"], "text", [{"f": "{bad json"}]):
        with pytest.raises(DecodeError):
            decode_result(bad, "fc")


def test_relevance_and_irrelevance(bfcl_dir: Path) -> None:
    irrelevant = load_category("irrelevance", bfcl_dir)[0]
    assert score_entry(irrelevant, "irrelevance", "I can't do that").valid
    assert score_entry(irrelevant, "irrelevance", "[]").valid
    assert score_entry(irrelevant, "irrelevance", []).valid
    wrong = score_entry(irrelevant, "irrelevance", "[f(a=1)]")
    assert wrong.error_type == "irrelevance_error:decoder_success"
    relevant = load_category("live_relevance", bfcl_dir)[0]
    assert score_entry(relevant, "live_relevance", [{"f": '{"a": 1}'}]).valid
    assert score_entry(relevant, "live_relevance", "no").error_type == (
        "relevance_error:decoder_failed"
    )


def test_result_lines_bad_lines_never_stop_the_rest(bfcl_dir: Path) -> None:
    entries = load_category("simple_python", bfcl_dir)
    first = entries[0]
    assert first.answer is not None
    name, params = next(iter(first.answer[0].items()))
    args = {k: v[0] for k, v in params.items() if v and v[0] != ""}
    lines = [
        json.dumps({"id": first.id, "result": [{name: json.dumps(args)}]}),
        "{broken",
        json.dumps({"id": "nope_1", "result": []}),
        json.dumps({"result": []}),
        json.dumps({"id": entries[1].id, "result": "[wrong_name(x=1)]"}),
        json.dumps({"id": first.id, "result": []}),
    ]
    scored, summary = score_result_lines(lines, entries, "simple_python")
    assert (summary.correct, summary.total, summary.missing) == (1, 2, len(entries) - 2)
    assert [p.split(":")[0] for p in summary.problems] == ["line 2", "line 3", "line 4", "line 6"]
    verdicts = [s.verdict.error_type if s.verdict else None for s in scored]
    assert verdicts == [None, None, None, None, "simple_function_checker:wrong_func_name", None]


def test_summary_aggregation() -> None:
    from voice_agent.evals.bfcl import CategoryScore

    scores = {
        c: CategoryScore(category=c, correct=c_, total=t)
        for c, c_, t in [
            ("simple_python", 9, 10),
            ("multiple", 1, 2),
            ("parallel", 3, 4),
            ("parallel_multiple", 0, 1),
            ("live_simple", 1, 1),
            ("live_multiple", 1, 3),
            ("live_parallel", 0, 0),
            ("live_parallel_multiple", 2, 2),
            ("irrelevance", 1, 2),
            ("live_irrelevance", 1, 1),
        ]
    }
    summary = leaderboard_summary(scores)
    assert summary["non_live_ast"] == pytest.approx((0.9 + 0.5 + 0.75 + 0) / 4)
    assert summary["live_ast"] is None, "a live category with no entries scored"
    scores["live_parallel"] = CategoryScore(category="live_parallel", correct=1, total=2)
    assert leaderboard_summary(scores)["live_ast"] == pytest.approx(5 / 8)
    assert leaderboard_summary(scores)["irrelevance"] == pytest.approx(0.75)


def test_data_errors_are_clear(tmp_path: Path, bfcl_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown BFCL category 'simple'"):
        load_category("simple", bfcl_dir)
    (tmp_path / "BFCL_v3_simple.json").write_text("{}\n")
    with pytest.raises(ConfigError, match="needs BFCL v4 files"):
        load_category("simple_python", tmp_path)
    (tmp_path / "BFCL_v4_irrelevance.json").write_text('{"id": "irrelevance_0"\n')
    with pytest.raises(ConfigError, match="line 1 is not JSON"):
        load_category("irrelevance", tmp_path)


def test_the_wheel_and_its_unpacked_directory_read_the_same(
    official_wheel: Path, bfcl_dir: Path
) -> None:
    for category in ("simple_python", "live_parallel", "irrelevance"):
        assert load_category(category, official_wheel) == load_category(category, bfcl_dir)


def test_cli_score(tmp_path: Path, bfcl_dir: Path) -> None:
    entries = load_category("parallel", bfcl_dir)[:3]
    lines = []
    for entry in entries:
        assert entry.answer is not None
        calls = [
            {n: json.dumps({k: v[0] for k, v in p.items() if v and v[0] != ""})}
            for expected in entry.answer
            for n, p in expected.items()
        ]
        lines.append(json.dumps({"id": entry.id, "result": calls[::-1]}))
    results = tmp_path / "results.jsonl"
    results.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scored.jsonl"
    done = subprocess.run(
        [
            "voice-agent",
            "eval",
            "score",
            "--suite",
            "bfcl",
            "--category",
            "parallel",
            "--results",
            str(results),
            "--data",
            str(bfcl_dir),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [e.id for e in entries]
    assert {tuple(sorted(r)) for r in rows} == {("error_type", "errors", "id", "valid")}
    assert "accuracy" in done.stdout
