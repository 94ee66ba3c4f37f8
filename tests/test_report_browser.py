"""The HTML report (``report/quality.html``, a job's artifact) rendered by a real browser.

Headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it) loads the artifact
twice: ``--dump-dom`` with a probe script that writes every table's and image's box (and
whether the image decoded) into the page, and ``--screenshot`` of the whole page, checked with
Pillow: not blank, and every plot's box on screen holds a drawn picture, not a flat colour.
Without a browser the test skips, except where ``DQ_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FAST, compose

WIDTH = 1280
PROBE = """<script>
window.addEventListener('load', () => {
  const box = e => { const r = e.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; };
  const out = {
    height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
    tables: [...document.querySelectorAll('table')].map(t => ({...box(t), rows: t.rows.length})),
    images: [...document.querySelectorAll('img')].map(i => ({...box(i), alt: i.alt, decoded: i.complete && i.naturalWidth > 0})),
  };
  const pre = document.createElement('pre'); pre.id = 'layout'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-dev-shm-usage",
             "--virtual-time-budget=10000", f"--user-data-dir={os.environ.get('TMPDIR', '/tmp')}/dq-chromium-{os.getpid()}"]  # fmt: skip
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def report(outputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary job's real ``report/quality.html`` artifact, read back from its MLflow store."""
    from mlflow import MlflowClient

    from runner.jobs.job import JobContext, run_job

    overrides = [*FAST, "dataset=breast_cancer", "quality.plots=true", f"paths.outputs={outputs}", "experiment_name=t_report_browser"]
    result = run_job(compose(overrides), JobContext(overrides=overrides))
    folder = tmp_path_factory.mktemp("report")
    return Path(MlflowClient(f"sqlite:///{outputs}/mlflow.db").download_artifacts(result.run_id, "report/quality.html", str(folder)))


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    binary = browser()
    if binary is None:
        if os.environ.get("DQ_REQUIRE_BROWSER") == "1":
            pytest.fail("DQ_REQUIRE_BROWSER=1 but no chromium on PATH (.ci/run installs Debian's chromium package)")
        pytest.skip("no chromium on PATH (apt-get install chromium); CI installs it")

    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(binary, "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    layout = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))

    # the tables: dimensions, class counts, per-feature statistics, two correlation tables, drift
    tables = layout["tables"]
    assert len(tables) >= 6 and all(t["w"] > 50 and t["h"] > 20 for t in tables)
    assert max(t["rows"] for t in tables) >= 31  # 30 features + a header, in the EDA and drift tables
    # the plots: confusion matrix, ROC/PR, training curves, class counts, drift histograms
    images = layout["images"]
    alts = {i["alt"] for i in images}
    assert {"confusion matrix (test)", "ROC and PR curves (test)", "training curves", "class counts", "train vs test: largest PSI"} <= alts
    assert all(i["decoded"] and i["w"] > 200 and i["h"] > 150 for i in images), images
    boxes = sorted(tables + images, key=lambda b: b["y"])
    for above, below in zip(boxes, boxes[1:]):  # stacked down the page, nothing drawn over anything else
        assert above["y"] + above["h"] <= below["y"] + 1
    assert all(b["x"] >= 0 and b["x"] + b["w"] <= WIDTH for b in boxes)  # nothing runs off a 1280 px window
    assert layout["width"] <= WIDTH

    shot = tmp_path / "report.png"
    done = chromium(binary, f"--window-size={WIDTH},{int(layout['height'])}", f"--screenshot={shot}", report.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape[0] >= layout["height"] - 2 and pixels.std() > 20  # not blank
    assert (pixels < 128).mean() > 0.01  # text and plot lines, not a white page
    for image in images:
        crop = pixels[int(image["y"]) + 2 : int(image["y"] + image["h"]) - 2, int(image["x"]) + 2 : int(image["x"] + image["w"]) - 2]
        assert crop.size and crop.std() > 15 and (crop < 200).mean() > 0.01, image["alt"]  # a drawn plot in its box
