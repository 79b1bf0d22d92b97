"""The labels marketwatch scores, and the law each one falls back on when only the model (no rule) speaks."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("false_advertising", "privacy_violation")

#: Law cited for a model-only flag: the general clause the finer rules specialise.
DEFAULT_LAW: dict[str, str] = {
    "false_advertising": "《广告法》第四条、第二十八条",
    "privacy_violation": "《个人信息保护法》第十条",
}

#: Officer-facing names of the labels (UI, exports, CLI summary).
LABEL_NAMES_ZH: dict[str, str] = {
    "false_advertising": "虚假违法广告",
    "privacy_violation": "侵犯个人信息",
}
