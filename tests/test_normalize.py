"""Normaliser: evasions are undone, offsets lead back to the original text exactly, junk never crashes it."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from opencc import OpenCC

from classifiers.normalize import compile_fast, evasion_examples, normalize
from marketwatch.errors import ConfigError


@pytest.mark.parametrize(("original", "expected"), evasion_examples(), ids=lambda v: v)
def test_evasion_map_examples(original: str, expected: str) -> None:
    assert normalize(original).text == expected


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("ＮＯ．１　全网", "no.1全网"),  # full-width letters, digits, dot and ideographic space
        ("國家級產品 療效顯著", "国家级产品疗效显著"),  # Traditional → Simplified
        ("国 家 级", "国家级"),  # spaces between CJK
        ("最❤️佳", "最佳"),  # emoji + variation selector between CJK
        ("最\u200b佳", "最佳"),  # zero-width space
        ("治.愈", "治愈"),  # in-word dot
        ("最\u0336佳", "最佳"),  # combining strike-through
        ("销量第①", "销量第1"),  # circled number (NFKC)
        ("销量第❶", "销量第1"),  # dingbat circled number (evasions.yaml chars)
        ("面积120㎡", "面积120m2"),  # one character → two
        ("iPhone 15 Pro", "iphone 15 pro"),  # spaces between Latin words stay
        ("效果最。好评如潮", "效果最。好评如潮"),  # sentence punctuation is a boundary, not junk
        ("第一\n次", "第一\n次"),  # line breaks are boundaries too
        ("", ""),
    ],
)
def test_normalisation_steps(original: str, expected: str) -> None:
    assert normalize(original).text == expected


def test_t2s_char_by_char_agrees_with_opencc_on_plain_text() -> None:
    """OpenCC t2s maps 1:1 per character, which is what lets us keep offsets; check it on a realistic sentence."""
    text = "本產品採用國家級專利技術，療效顯著，無任何副作用，藥到病除。"
    assert normalize(text).text == OpenCC("t2s").convert(text).replace("，", ",")


@pytest.mark.parametrize(
    "original",
    ["国 家 级 认 证", "最❤️佳口感", "ＴＯＰ１ 全网zui低价", "加薇❤️ 详聊", "根氵台糖尿病", "a\u200bb\u200cc面积120㎡", "國家級",
     "𝐀𝐁 最😀佳 ㎡㎡", "\ud800最 \udfff 佳①", "ﾃｽﾄ\r\n治 . 愈"],  # astral, lone surrogates, one → two characters
)
def test_every_normalised_char_maps_inside_the_original(original: str) -> None:
    norm = normalize(original)
    previous = (0, 0)
    for i in range(len(norm.text)):
        start, end = norm.to_original(i, i + 1)
        assert 0 <= start < end <= len(original)
        assert (start, end) >= previous  # monotonic
        previous = (start, end)
    assert norm.to_original(0, len(norm.text)) == (
        norm.to_original(0, 1)[0],
        norm.to_original(len(norm.text) - 1, len(norm.text))[1],
    )


def test_span_maps_back_to_exact_original_quote() -> None:
    original = "本品为 国 家 级 配方，全网zui低价"
    norm = normalize(original)
    i = norm.text.index("国家级")
    start, end = norm.to_original(i, i + 3)
    assert original[start:end] == "国 家 级"
    j = norm.text.index("最低价")
    start, end = norm.to_original(j, j + 3)
    assert original[start:end] == "zui低价"


def test_empty_span_and_bounds() -> None:
    norm = normalize("国 家")
    assert norm.to_original(2, 2) == (3, 3)
    assert norm.to_original(0, 0) == (0, 0)
    with pytest.raises(ValueError, match="outside the normalised text"):
        norm.to_original(0, 5)


def test_rejects_bytes_with_a_hint() -> None:
    with pytest.raises(TypeError, match="decode bytes first"):
        normalize(b"abc")  # type: ignore[arg-type]


def test_junk_does_not_crash() -> None:
    rng = random.Random(42)
    samples = [
        "\x00\x01\x02\x7f\x1b[31m最佳\x1b[0m",
        "".join(chr(rng.randrange(0, 0x110000)) for _ in range(2000)),  # incl. lone surrogates and unassigned
        bytes(rng.randrange(256) for _ in range(4000)).decode("utf-8", errors="surrogateescape"),
        "\ud800最\udfff佳",
        "\ufeff\u202e反转\u202c文字",
    ]
    for text in samples:
        norm = normalize(text)
        if norm.text:
            start, end = norm.to_original(0, len(norm.text))
            assert 0 <= start <= end <= len(text)


def test_one_megabyte_text() -> None:
    text = ("国 家 级❤️最佳 ﾃｽﾄ 療效 " * 60_000)[:1_000_000]
    started = time.perf_counter()
    norm = normalize(text)
    assert time.perf_counter() - started < 20
    assert "国家级最佳" in norm.text
    start, end = norm.to_original(0, 3)
    assert text[start:end] == "国 家 级"


def test_bad_evasion_file_raises_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "evasions.yaml"
    bad.write_text("version: 1\nterms:\n  - pattern: '(unclosed'\n    replace: x\n    why: test\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evasions\.yaml: terms\[0\]: bad regex"):
        normalize("x", evasions=bad)
    bad.write_text("version: 1\nterms:\n  - pattern: 'a'\n    why: test\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="exactly one of replace/replace_map"):
        normalize("x", evasions=bad)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(全网|全国)最[\u4e00-\u9fff]{1,2}",
        r"(?<![a-z])zui(?=[\u4e00-\u9fff])",
        r"[0-9]+(万|千)?条(信息|数据)",
        r"最(佳|好)?",  # nullable tail, non-nullable head
        r"\d+%",  # broad first character: no prefilter
        r"(?:ab)*c",
    ],
)
def test_compile_fast_finds_every_plain_match(pattern: str) -> None:
    fast = compile_fast(pattern)
    text = "全网最低价 zui佳 10万条数据 最佳 abababc 99% 最"
    plain = [m.span() for m in re.finditer(pattern, text)]
    assert set(plain) <= set(fast.spans(text))


def test_speed_normalize() -> None:
    """Target: well over 2,000 docs/s of 500 characters; the floor here is lower to keep slow CI machines green."""
    rng = random.Random(0)
    pieces = ["这款商品采用优质材料，做工精细，物流很快。", "國家級 產品", "最❤️佳", "ＴＯＰ１", "zui低价", "面积120㎡"]
    docs = ["".join(rng.choice(pieces) for _ in range(60))[:500] for _ in range(2000)]
    normalize(docs[0])  # build tables outside the timing
    started = time.perf_counter()
    for doc in docs:
        normalize(doc)
    rate = len(docs) / (time.perf_counter() - started)
    print(f"normalize: {rate:,.0f} docs/s (500 chars)")
    assert rate > 1000
