"""The quality / EDA / drift report: one self-contained HTML file (plots inlined) and JSON."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from components.quality import DIMENSIONS


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, "")
            cells.append(f"<td>{v:.4g}</td>" if isinstance(v, float) else f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(title: str, quality: dict[str, Any] | None, drift: dict[str, Any] | None, images: dict[str, Path]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
        "th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:.5em 0}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if quality:
        dims = [
            {"dimension": k, "value": quality[k]}
            for k in (*DIMENSIONS, "rows", "features")
            if k in quality
        ]
        parts += ["<h2>Data quality (training split)</h2>", _table(dims, ["dimension", "value"])]
        parts += ["<h3>Class counts</h3>", _table([{"class": c, "rows": n} for c, n in quality["class_counts"].items()], ["class", "rows"])]
        parts += ["<h2>EDA: per-feature statistics</h2>", _table(quality["feature_stats"], ["feature", "mean", "median", "std", "skewness", "kurtosis", "near_zero_variance"])]
        for kind in ("pearson", "spearman"):
            pairs = [{"feature a": a, "feature b": b, "correlation": r} for a, b, r in quality.get(f"top_{kind}", [])]
            parts += [f"<h3>Most correlated pairs ({kind.title()})</h3>", _table(pairs, ["feature a", "feature b", "correlation"])]
    if drift:
        parts += [
            "<h2>Drift: train → test</h2>",
            f"<p>Domain classifier ROC-AUC: <b>{drift['domain_auc']:.4f}</b> (0.5: indistinguishable); "
            f"share of drifted features (PSI ≥ threshold): <b>{drift['share_drifted']:.3f}</b>; max PSI {drift['max_psi']:.4f}</p>",
            _table(sorted(drift["features"], key=lambda r: -r["psi"]), ["feature", "psi", "ks", "ks_pvalue", "js", "tv", "kl"]),
        ]
    if images:
        parts.append("<h2>Plots</h2>")
        for name, path in images.items():
            data = base64.b64encode(Path(path).read_bytes()).decode()
            parts.append(f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(folder: Path, title: str, quality: dict[str, Any] | None, drift: dict[str, Any] | None, images: dict[str, Path]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / "quality.html", folder / "quality.json"
    html_path.write_text(render_html(title, quality, drift, images))
    json_path.write_text(json.dumps({"quality": quality, "drift": drift}, indent=1, default=float))
    return html_path, json_path
