"""`spl-lite report`: one self-contained HTML file, rendered in headless Chromium to see the charts drew."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import cli_in_process

pytest.importorskip("plotly", reason="spl-lite report needs the `report` extra (plotly)")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "searches" / "rare_parent_child_process_relationship.spl"
BURST = ROOT / "searches" / "lolbas_burst_per_host.spl"
EXAMPLE = ROOT / "examples" / "process_creation.jsonl"
SHARED = ROOT.parent / "shared" / "data" / "raw"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-dev-shm-usage", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = cli_in_process("report", REFERENCE, BURST, "--input", EXAMPLE, "-o", path)
    assert result.returncode == 0, result.err
    return path


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", text)  # plotly.js is in the file, not fetched
    assert text.count('class="plotly-graph-div"') == 4  # two funnels, the threshold, the windows
    assert "#8 adaptive_threshold" in text and "#3 stats" in text
    assert text.count('<table class="sortable">') == 2
    # the 14 detections of the example, in the table
    table = text.split('<table class="sortable">')[1].split("</table>")[0]
    assert table.count("<tr>") == 15


def _chromium(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *_HEADLESS, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_report_draws_in_chromium(report, tmp_path):
    url = report.as_uri()
    dom = _chromium("--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0", "--dump-dom", url, cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    svgs = re.findall(r'<svg class="main-svg"', html)
    assert len(svgs) >= 8  # plotly draws two layered SVGs per chart
    # the threshold chart: its points (input and the labelled ones), the mean line and the band's fill
    assert len(re.findall(r'<path class="point[ "]', html)) >= 436 + 31
    assert 'class="js-fill"' in html and 'class="js-line"' in html
    # the funnels and the window bars drew their shapes
    assert len(re.findall(r'<g class="point"><path d="M', html)) == 12 + 8 + 10  # funnel stages, window bars
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/raw is absent")
def test_report_of_the_reference_detection_over_shared_data(tmp_path):
    path = tmp_path / "shared.html"
    inputs = sorted(str(p) for p in SHARED.glob("*/*.jsonl.gz"))
    result = cli_in_process("report", REFERENCE, "--input", *inputs, "-o", path)
    assert result.returncode == 0, result.err
    dom = _chromium("--virtual-time-budget=10000", "--dump-dom", path.as_uri(), cwd=tmp_path)
    assert 'class="js-fill"' in dom.stdout and "label true" in dom.stdout  # drawn


def test_report_without_plotly_says_how_to_get_it(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_plotly(name, *args, **kwargs):
        if name == "plotly" or name.startswith("plotly."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_plotly)
    result = cli_in_process("report", REFERENCE, "--input", EXAMPLE, "-o", tmp_path / "r.html")
    assert result.returncode == 2 and "spl-lite[report]" in result.err
