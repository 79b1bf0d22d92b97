"""Unified social credit codes (统一社会信用代码, GB 32100-2015) for the demo shops.

The codes carry both real check digits (the embedded organisation code's GB 11714 digit and the final GB 32100 digit),
so a crawler or an export step that validates the format sees the demo shops as well-formed — and a later
"misbehaving" page can show a code with a wrong check digit that validation must catch.
"""

from __future__ import annotations

import random

#: The 31 characters a code may use (no I, O, S, V, Z).
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

#: Administrative division codes of the cities the demo companies are registered in.
CITIES: tuple[tuple[str, str], ...] = (
    ("深圳市", "440300"),
    ("杭州市", "330100"),
    ("上海市", "310115"),
    ("广州市", "440100"),
    ("苏州市", "320500"),
    ("成都市", "510100"),
    ("武汉市", "420100"),
    ("厦门市", "350200"),
    ("郑州市", "410100"),
    ("北京市", "110105"),
    ("义乌市", "330782"),
    ("泉州市", "350500"),
)


def _org_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    total = sum(_char_value36(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    digit = 11 - total % 11
    return "X" if digit == 10 else "0" if digit == 11 else str(digit)


def _char_value36(ch: str) -> int:
    return int(ch, 36)


def uscc_check(first17: str) -> str:
    """GB 32100 check character for the first 17 characters of a code."""
    total = sum(USCC_CHARSET.index(ch) * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True when ``code`` has 18 allowed characters and a correct final check character."""
    return (
        len(code) == 18
        and all(ch in USCC_CHARSET for ch in code)
        and uscc_check(code[:17]) == code[17]
    )


def make_uscc(rng: random.Random, region: str, *, individual: bool = False) -> str:
    """A well-formed code: ``91`` (enterprise) or ``92`` (个体工商户), region, organisation code, check character.

    Organisation codes issued since 2015 mostly start with ``MA``; older ones are numeric — both kinds appear.
    """
    prefix = "92" if individual else "91"
    while True:
        if rng.random() < 0.6:
            body = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
        else:
            body = "".join(rng.choice("0123456789") for _ in range(8))
        check = _org_check(body)
        if check in USCC_CHARSET:  # "X" is allowed, but keep the draw loop for any future charset change
            break
    first17 = prefix + region + body + check
    return first17 + uscc_check(first17)
