"""The dashboard's assets are package data: an installed (non-editable) wheel carries them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from support import ROOT

ASSETS = [
    "sluicegate/dashboard/templates/index.html",
    "sluicegate/dashboard/templates/login.html",
    "sluicegate/dashboard/static/dashboard.css",
    "sluicegate/dashboard/static/js/app.js",
    "sluicegate/dashboard/static/vendor/uPlot.iife.min.js",
    "sluicegate/dashboard/static/vendor/uPlot.min.css",
    "sluicegate/dashboard/static/vendor/uPlot.LICENSE",
]


def test_wheel_contains_the_dashboard_assets(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("sluicegate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [asset for asset in ASSETS if asset not in names]
    assert not missing, missing
    pages = [n for n in names if n.startswith("sluicegate/dashboard/static/js/pages/")]
    assert pages, "the page modules are missing"
