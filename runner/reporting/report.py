"""The quality / EDA / drift report: one self-contained HTML file (plots inlined) and JSON."""
from __future__ import annotations

import base64
import csv
import html
import io
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
            numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
            text = f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))
            cells.append(f"<td>{text}</td>" if numeric else f"<td class='text'>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


QUALITY_COLUMNS = ["feature", "mean", "median", "std", "skewness", "kurtosis", "near_zero_variance"]
DRIFT_COLUMNS = ["feature", "psi", "ks", "ks_pvalue", "ks_pvalue_holm", "drifted", "js", "tv", "kl"]


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def feature_csvs(quality: dict[str, Any] | None, drift: dict[str, Any] | None) -> dict[str, str]:
    """The per-feature tables as CSV text: ``feature_stats.csv`` (EDA) and ``feature_drift.csv``."""
    out = {}
    if quality and quality.get("feature_stats"):
        out["feature_stats.csv"] = _csv(quality["feature_stats"], QUALITY_COLUMNS)
    if drift and drift.get("features"):
        out["feature_drift.csv"] = _csv(drift["features"], DRIFT_COLUMNS)
    return out


def drift_flag_text(drift: dict[str, Any]) -> str:
    """What "drifted" means, in the report's words (the rule is in components/drift.py)."""
    return (
        f"A feature is flagged <b>drifted</b> when its PSI ≥ {drift.get('psi_threshold', 0.2):g} <i>and</i> its "
        f"Kolmogorov–Smirnov test is significant after a Holm correction across the "
        f"{len(drift['features'])} features (adjusted p &lt; {drift.get('alpha', 0.05):g}). With train and test drawn "
        f"from the same distribution, the chance that any feature is flagged is at most {drift.get('alpha', 0.05):g} "
        "(and, when some features drift, the chance that any of the others is flagged); "
        "PSI alone is not used because at small n its sampling noise crosses 0.2 on identical distributions."
    )


def render_html(title: str, quality: dict[str, Any] | None, drift: dict[str, Any] | None, images: dict[str, Path]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
        "th{background:#f3f3f3}td.text{text-align:left}.note{color:#444;font-size:14px;max-width:900px}img{max-width:100%;border:1px solid #eee;margin:.5em 0}</style></head><body>",
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
        parts += ["<h2>EDA: per-feature statistics</h2>", _table(quality["feature_stats"], QUALITY_COLUMNS)]
        for kind in ("pearson", "spearman"):
            pairs = [{"feature a": a, "feature b": b, "correlation": r} for a, b, r in quality.get(f"top_{kind}", [])]
            parts += [f"<h3>Most correlated pairs ({kind.title()})</h3>", _table(pairs, ["feature a", "feature b", "correlation"])]
    if drift:
        parts += [
            "<h2>Drift: train → test</h2>",
            f"<p>Domain classifier ROC-AUC: <b>{drift['domain_auc']:.4f}</b> (0.5: indistinguishable); "
            f"share of drifted features: <b>{drift['share_drifted']:.3f}</b>; "
            f"share with PSI ≥ {drift.get('psi_threshold', 0.2):g}: {drift.get('share_psi_above', float('nan')):.3f}; "
            f"max PSI {drift['max_psi']:.4f}</p>",
            f"<p class='note'>{drift_flag_text(drift)}</p>",
            _table(sorted(drift["features"], key=lambda r: -r["psi"]), DRIFT_COLUMNS),
        ]
    if images:
        parts.append("<h2>Plots</h2>")
        for name, path in images.items():
            data = base64.b64encode(Path(path).read_bytes()).decode()
            parts.append(f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(folder: Path, title: str, quality: dict[str, Any] | None, drift: dict[str, Any] | None, images: dict[str, Path]) -> tuple[Path, Path]:
    """``quality.html`` and ``quality.json`` (and the per-feature CSVs beside them) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / "quality.html", folder / "quality.json"
    html_path.write_text(render_html(title, quality, drift, images))
    json_path.write_text(json.dumps({"quality": quality, "drift": drift}, indent=1, default=float))
    for name, text in feature_csvs(quality, drift).items():
        (folder / name).write_text(text)
    return html_path, json_path
