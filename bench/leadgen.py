"""Realistic Chinese lead items, generated fast and reproducibly, for the store benchmarks.

The copy comes from the demo marketplace's text pool and the classifier corpus (hand-written listings and ads, lawful
and not), scored once with the real scorer; each generated item takes one of those texts with variations (model
numbers, specs, shop, platform, price, capture time, review status), so term statistics look like a crawl's and a
query such as 根治 or 针孔 matches a realistic share of the leads.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import yaml

REPO = Path(__file__).resolve().parent.parent
PLATFORMS = ("youpin", "taole", "jingxuan", "pinhuo", "weidian", "haohuo")
SHOP_HEADS = ("健康", "优品", "正宗", "老字号", "源头", "官方", "精选", "好物", "国潮", "臻选", "匠心", "百年", "亲民", "安心")
SHOP_TAILS = ("小铺", "旗舰店", "专营店", "工厂店", "生活馆", "大药房", "数码城", "优选", "商行", "直营店")
EXTRAS = (
    "下单后48小时内发货，支持七天无理由退换。", "规格：{n}g/袋，{m}袋装。", "型号MW-{n}{m}，颜色随机。",
    "收到货有问题请联系客服，我们会尽快处理。", "本店另有{n}款同系列产品，欢迎选购。", "产地：{city}。",
    "库存{n}件，售完即止。", "包装升级，新老包装随机发货。", "保质期{m}个月，请置于阴凉干燥处。",
)
CITIES = ("杭州", "广州", "深圳", "义乌", "成都", "郑州", "武汉", "长沙", "青岛", "厦门", "苏州", "南宁")
#: Review statuses as a province's backlog looks: most leads are still new.
STATUSES = (("new", 0.78), ("reviewing", 0.08), ("confirmed", 0.07), ("dismissed", 0.06), ("exported", 0.01))


@dataclass(frozen=True)
class Base:
    title: str
    text: str
    category: str
    kind: str
    score: dict[str, Any]


@cache
def bases() -> tuple[Base, ...]:
    """The hand-written texts, each scored once with the shipped model and rulebook."""
    from classifiers.scorer import Scorer

    pool = yaml.safe_load((REPO / "demo" / "pool.yaml").read_text(encoding="utf-8"))
    cats = {k: v["name"] for k, v in pool["categories"].items()}
    raw: list[tuple[str, str, str, str]] = []
    for e in pool["listings"]:
        raw.append((" ".join(e["title"].split()), e["text"], cats.get(e.get("cat"), "其他"), "listing"))
    for e in pool.get("ads", []):
        raw.append((" ".join(str(e.get("title", "")).split()), e["text"], "广告", "ad"))
    for path in sorted((REPO / "classifiers" / "data" / "corpus").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                text = r["text"]
                raw.append((text[:18], text, r.get("category") or path.stem, "listing"))
    scorer = Scorer.load()
    scores = scorer.score_many([f"{t}\n{x}" for t, x, _, _ in raw])
    return tuple(Base(t, x, c, k, s) for (t, x, c, k), s in zip(raw, scores))


def items(n: int, seed: int = 42, start: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` crawl items (as the index stage sees them: fingerprinted, hashed, scored), the same for the same seed."""
    rng = random.Random(seed)
    pool = bases()
    shops = [f"{rng.choice(SHOP_HEADS)}{rng.choice(SHOP_HEADS)}{rng.choice(SHOP_TAILS)}{i}" for i in range(5000)]
    statuses, weights = zip(*STATUSES)
    t0 = 1_735_689_600  # 2025-01-01T00:00:00Z
    for i in range(start, start + n):
        b = pool[rng.randrange(len(pool))]
        extra = rng.choice(EXTRAS).format(n=rng.randint(1, 999), m=rng.randint(1, 36), city=rng.choice(CITIES))
        # Some leads copy their text unchanged (duplicates to group); most get a variation.
        text = b.text if rng.random() < 0.2 else f"{b.text}\n{extra}"
        title = f"{b.title} {rng.choice(('', '新款', '热卖', '包邮', '正品'))}{rng.randint(1, 99)}号".strip()
        platform = rng.choice(PLATFORMS)
        ts = t0 + rng.randrange(365 * 86400)
        captured = f"{_iso(ts)}"
        jitter = {k: min(1.0, max(0.0, v + rng.uniform(-0.05, 0.05))) for k, v in b.score["scores"].items()}
        fp = hashlib.sha256(f"bench|{seed}|{i}".encode()).hexdigest()[:32]
        item = {
            "fingerprint": fp, "kind": b.kind, "url": f"https://{platform}.example.cn/item/{i}", "platform": platform,
            "profile": platform, "captured_at": captured, "title": title, "text": text,
            "content_hash": hashlib.sha256(f"{title}\n{text}".encode()).hexdigest(),
            "canonical_id": f"SKU{i}", "price": round(rng.uniform(5, 3000), 2), "currency": "CNY",
            "category": b.category, "shop_name": rng.choice(shops), "shop_url": f"https://{platform}.example.cn/shop/{i % 5000}",
            "shop_licence": None if rng.random() < 0.3 else f"91{rng.randrange(10**15, 10**16)}X",
            "evidence": {"warc_path": f"warc/{captured[:10]}/{fp}.warc.gz", "warc_sha256": fp * 2, "body_sha256": fp * 2,
                         "crawler_version": "0.1.0", "captured_at": captured},
            "score": {**b.score, "scores": jitter, "flags": [k for k, v in jitter.items() if v >= 0.5]},
            "_status": rng.choices(statuses, weights)[0],
        }
        yield item


def _iso(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
