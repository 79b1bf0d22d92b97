"""The evaluation report an analyst opens in a browser: one self-contained HTML file, charts as inline SVG.

No plotting library: a precision–recall curve and a 2×2 confusion matrix are a few SVG elements, and a file with no
external references can be attached to a case file or mailed as it is.
"""

from __future__ import annotations

import html
from typing import Any

from classifiers.labels import LABEL_NAMES_ZH

_W, _H, _PAD = 320, 260, 36


def _xy(recall: float, precision: float) -> tuple[float, float]:
    return _PAD + recall * (_W - 2 * _PAD), _H - _PAD - precision * (_H - 2 * _PAD)


def pr_svg(m: dict[str, Any]) -> str:
    """Precision–recall curve of the model, with its operating point and the rules-only point marked."""
    curve = m.get("pr_curve") or {}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
             f'aria-label="precision-recall curve">',
             f'<rect x="{_PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" height="{_H - 2 * _PAD}" fill="none" '
             'stroke="#999"/>']
    for v in (0.0, 0.5, 1.0):
        x, _ = _xy(v, 0)
        _, y = _xy(0, v)
        parts.append(f'<text x="{x:.0f}" y="{_H - _PAD + 14}" font-size="10" text-anchor="middle">{v:g}</text>')
        parts.append(f'<text x="{_PAD - 4}" y="{y + 3:.0f}" font-size="10" text-anchor="end">{v:g}</text>')
    parts.append(f'<text x="{_W / 2}" y="{_H - 6}" font-size="11" text-anchor="middle">recall</text>')
    parts.append(f'<text x="10" y="{_H / 2}" font-size="11" transform="rotate(-90 10 {_H / 2})" '
                 'text-anchor="middle">precision</text>')
    if curve.get("recall"):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (_xy(r, p) for r, p in zip(curve["recall"],
                                                                                    curve["precision"])))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#1f6feb" stroke-width="2"/>')
    for key, colour, name in (("model", "#1f6feb", "model at threshold"), ("rules_only", "#d1242f", "rules only")):
        p = m[key]
        x, y = _xy(p["recall"], p["precision"])
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}"><title>{name}: P {p["precision"]} '
                     f'R {p["recall"]}</title></circle>')
    parts.append(f'<text x="{_W - _PAD}" y="{_PAD - 8}" font-size="10" text-anchor="end" fill="#1f6feb">● model'
                 '</text>')
    parts.append(f'<text x="{_PAD}" y="{_PAD - 8}" font-size="10" fill="#d1242f">● rules only</text>')
    parts.append("</svg>")
    return "".join(parts)


def confusion_html(p: dict[str, Any], title: str) -> str:
    return (f'<table class="cm"><caption>{html.escape(title)}</caption>'
            '<tr><th></th><th>flagged</th><th>not flagged</th></tr>'
            f'<tr><th>violation</th><td class="ok">{p["tp"]}</td><td class="bad">{p["fn"]}</td></tr>'
            f'<tr><th>lawful</th><td class="bad">{p["fp"]}</td><td class="ok">{p.get("tn", "")}</td></tr></table>')


def render(metrics: dict[str, Any], *, title: str = "marketwatch evaluation", data: str = "") -> str:
    e = html.escape
    out = [
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">",
        f"<title>{e(title)}</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        ".cm{display:inline-table;margin-right:2em}.cm td{min-width:4em}.ok{background:#e6f4ea}.bad{background:#fce8e6}"
        ".errors td{text-align:left;vertical-align:top}.errors td.text{max-width:600px}"
        ".label{display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap}",
        "</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>model <b>{e(str(metrics.get('model_version')))}</b> · {metrics['n']} texts"
        + (f" · data {e(data)}" if data else "") + "</p>",
        "<table><tr><th>label</th><th>n</th><th>threshold</th><th>model P</th><th>model R</th><th>model F1</th>"
        "<th>rules P</th><th>rules R</th><th>rules F1</th><th>average precision</th></tr>",
    ]
    for label, m in metrics["labels"].items():
        mm, rr = m["model"], m["rules_only"]
        ap = m.get("average_precision")
        out.append(f"<tr><th>{e(label)}</th><td>{m.get('n', metrics['n'])}</td><td>{m['threshold']:.3f}</td>"
                   f"<td>{mm['precision']:.3f}</td><td>{mm['recall']:.3f}</td><td><b>{mm['f1']:.3f}</b></td>"
                   f"<td>{rr['precision']:.3f}</td><td>{rr['recall']:.3f}</td><td>{rr['f1']:.3f}</td>"
                   f"<td>{'' if ap is None else f'{ap:.3f}'}</td></tr>")
    out.append("</table>")
    for label, m in metrics["labels"].items():
        out.append(f"<h2>{e(label)} ({e(LABEL_NAMES_ZH.get(label, ''))})</h2><div class=\"label\">")
        out.append(pr_svg(m))
        out.append("<div>" + confusion_html(m["model"], "model") + confusion_html(m["rules_only"], "rules only")
                   + "</div></div>")
        errors = [w for w in metrics.get("worst_errors", []) if w["label"] == label]
        if errors:
            out.append("<h3>worst errors (most confident mistakes first)</h3><table class=\"errors\">"
                       "<tr><th>id</th><th>truth</th><th>score</th><th>rules</th><th>category</th><th>text</th></tr>")
            for w in errors:
                kind = "missed" if w["truth"] == 1 else "false alarm"
                out.append(f"<tr><td>{e(str(w['id']))}</td><td>{w['truth']} ({kind})</td><td>{w['score']:.3f}</td>"
                           f"<td>{e(', '.join(w.get('rules', [])))}</td><td>{e(w.get('category', ''))}</td>"
                           f"<td class=\"text\">{e(w.get('text', ''))}</td></tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
