"""The `marketwatch score` contract: JSONL in, one record per line out, in order; bad lines reported, never fatal."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.labels import LABELS
from classifiers.model import CARD_FILE, TextModel
from classifiers.scorer import DEFAULT_MODEL_DIR, MAX_CHARS, Scorer, score_stream
from marketwatch.errors import ScoringError


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.load()


def _run(scorer: Scorer, lines: list[str]) -> tuple[list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    score_stream(scorer, lines, out, err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_records_follow_the_contract_in_input_order(scorer: Scorer) -> None:
    texts = {
        "ad": "祖传秘方，三个疗程根治糖尿病，国家级专家推荐",
        "spy": "出售针孔摄像头，伪装成充电器，隐蔽安装不被发现",
        "ok": "纯棉短袖T恤，尺码S-XXL，支持七天无理由退换",
    }
    records, err = _run(scorer, [json.dumps({"id": k, "text": v, "extra": 1}, ensure_ascii=False) for k, v in texts.items()])
    assert err == ""
    assert [r["id"] for r in records] == list(texts)
    for r in records:
        assert set(r) == {"id", "scores", "flags", "reasons", "model_version"}
        assert set(r["scores"]) == set(LABELS) and all(0.0 <= p <= 1.0 for p in r["scores"].values())
        assert r["model_version"] == scorer.model_version
        for reason in r["reasons"]:
            assert {"label", "rule", "law", "span", "match"} <= set(reason)
            start, end = reason["span"]
            assert texts[r["id"]][start:end] == reason["match"]
    by_id = {r["id"]: r for r in records}
    assert by_id["ad"]["flags"] == ["false_advertising"]
    assert by_id["spy"]["flags"] == ["privacy_violation"]
    assert by_id["ok"]["flags"] == []


def test_every_flag_has_a_reason_with_a_law(scorer: Scorer) -> None:
    for text in ["本产品是全网销量第一的降压神器，停药也不反弹", "批量出售小区业主名单和手机号，价格私聊"]:
        record = scorer.score(text)
        assert record["flags"]
        for label in record["flags"]:
            assert any(r["label"] == label and r["law"].startswith("《") for r in record["reasons"])


def test_malformed_lines_are_named_and_the_rest_still_scored(scorer: Scorer) -> None:
    lines = ['{"id": 1, "text": "国家级"}', "not json", "[1, 2]", '{"id": 4, "text": null}', "", '{"id": 5, "text": "好"}']
    records, err = _run(scorer, lines)
    assert [r["id"] for r in records] == [1, None, None, 4, 5]
    assert "error" not in records[0] and "scores" in records[4]
    assert records[1]["error"].startswith("line 2: not valid JSON")
    assert records[2]["error"].startswith("line 3: expected a JSON object")
    assert records[3]["error"] == "line 4: 'text' must be a string, got NoneType"
    assert err.count("marketwatch score: line") == 3


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\x00\x01\x02 控制字符 \x7f", "\ufffd\ufffd\x89PNG\r\n\x1a\n" * 50, "混合 script текст العربية 😀" * 20,
     "最" * (MAX_CHARS + 10)],
    ids=["empty", "blank", "control", "binary", "mixed", "huge"],
)
def test_bad_input_is_scored_not_crashed(scorer: Scorer, text: str) -> None:
    record = scorer.score(text)
    assert set(record["scores"]) == set(LABELS)
    if len(text) > MAX_CHARS:
        assert record["truncated_at"] == MAX_CHARS


def test_cli_reads_stdin_and_writes_stdout() -> None:
    lines = '{"id": "a", "text": "三个疗程根治糖尿病"}\nbroken\n'
    proc = subprocess.run([sys.executable, "-m", "leads.cli", "score", "--in", "-", "--out", "-"], input=lines,
                          capture_output=True, text=True, timeout=120, check=True)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0]["id"] == "a" and "false_advertising" in out[0]["flags"]
    assert out[1] == {"id": None, "error": "line 2: not valid JSON (Expecting value at column 1)"}
    assert "1 scored, 1 malformed" in proc.stderr


def _copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, target)
    return target


def test_model_from_another_sklearn_version_is_refused(tmp_path: Path) -> None:
    model_dir = _copy_model(tmp_path)
    card = json.loads((model_dir / CARD_FILE).read_text(encoding="utf-8"))
    card["sklearn_version"] = "0.24.2"
    (model_dir / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ScoringError, match=r"made with scikit-learn 0\.24\.2.*install scikit-learn==0\.24\.2"):
        TextModel.load(model_dir)


def test_changed_model_file_is_refused(tmp_path: Path) -> None:
    model_dir = _copy_model(tmp_path)
    with open(model_dir / "model.skops", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ScoringError, match="does not match the SHA-256 in its card"):
        TextModel.load(model_dir)


def test_missing_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ScoringError, match="train one with `marketwatch train`"):
        TextModel.load(tmp_path)


def test_one_megabyte_is_cut_and_says_so(scorer: Scorer) -> None:
    text = ("根治糖尿病。" + "普通描述文字" * 20) * 8000  # ≈ 1 MB of UTF-8
    assert len(text.encode("utf-8")) > 1_000_000
    record = scorer.score(text)
    assert record["truncated_at"] == MAX_CHARS
    assert all(end <= MAX_CHARS for _, end in (r["span"] for r in record["reasons"]))
    assert "false_advertising" in record["flags"]


def test_lone_surrogates_are_replaced_so_the_output_can_be_written(scorer: Scorer, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "s", "text": "\\ud800根治糖尿病\\udfff"}\n', encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    subprocess.run([sys.executable, "-m", "leads.cli", "score", "--in", str(src), "--out", str(dst)],
                   capture_output=True, text=True, timeout=120, check=True)
    record = json.loads(dst.read_text(encoding="utf-8"))
    assert "false_advertising" in record["flags"]
    for reason in record["reasons"]:
        assert "\ufffd根治糖尿病\ufffd"[reason["span"][0]:reason["span"][1]] == reason["match"]


def test_non_text_is_refused_with_the_type_that_arrived(scorer: Scorer) -> None:
    with pytest.raises(ScoringError, match="text must be a string, got bytes; decode bytes"):
        scorer.score(b"\xe6\xa0\xb9")  # type: ignore[arg-type]


def test_scoring_normalises_each_text_once(scorer: Scorer, monkeypatch: pytest.MonkeyPatch) -> None:
    import classifiers.rulebook
    import classifiers.scorer

    calls = []
    real = classifiers.scorer.normalize
    monkeypatch.setattr(classifiers.scorer, "normalize", lambda t: calls.append(t) or real(t))
    monkeypatch.setattr(classifiers.rulebook, "normalize", lambda t: pytest.fail("rulebook normalised again"))
    scorer.score_many(["根治糖尿病", "出售业主名单", "纯棉T恤"])
    assert len(calls) == 3
