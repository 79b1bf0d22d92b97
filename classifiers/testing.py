"""Test support: a tiny labeled corpus built in code, so model tests run in seconds and need no data files.

Phrases are combined at random (seeded) with lawful filler, enough for the three id-hash splits to each hold both
classes of both labels. It is for exercising the machinery, not for judging a model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from classifiers.corpus import Example

_AD = ["三个疗程根治糖尿病", "全网销量第一的神器", "喝了降血压不用吃药", "国家级专家推荐", "保本保息稳赚不赔",
       "包过不过全额退款", "治愈率高达百分之九十八", "买房送学位三年升值翻倍", "最好用的没有之一", "专治失眠一觉到天亮"]
_PV = ["出售小区业主名单手机号", "批量提供公民身份证照片", "针孔摄像头伪装成充电器", "精准客户数据一万条打包",
       "无线远程偷拍摄像头隐蔽安装", "代查开房记录和行踪轨迹"]
_OK = ["纯棉短袖T恤支持七天无理由退换", "家用监控摄像头安装在客厅看护老人", "本店新到一批苹果香甜多汁",
       "周末亲子烘焙课欢迎报名", "保健食品本品不能代替药物", "数据分析课程教你做报表", "小区物业通知停水时间",
       "手机壳多色可选包邮", "办公室绿植好养活", "学区房政策解读讲座"]
_FILL = ["欢迎选购", "包邮到家", "现货速发", "老顾客回购", "详情咨询客服", "限时优惠", "品质保障", ""]


def tiny_examples(n: int = 240, *, seed: int = 0, prefix: str = "tiny") -> list[Example]:
    """``n`` labeled texts: each a random phrase of one kind plus filler; ids ``<prefix>-0000`` …"""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(("ad", "pv", "ok", "ok"))
        phrase = rng.choice({"ad": _AD, "pv": _PV, "ok": _OK}[kind])
        text = f"{rng.choice(_FILL)}{phrase}，{rng.choice(_FILL)}{rng.choice(_OK)}"
        out.append(Example(id=f"{prefix}-{i:04d}", text=text,
                           labels={"false_advertising": int(kind == "ad"), "privacy_violation": int(kind == "pv")},
                           category=kind))
    return out


def write_jsonl(examples: list[Example], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps({"id": e.id, "text": e.text, **e.labels, "category": e.category},
                                ensure_ascii=False) + "\n")
    return path
