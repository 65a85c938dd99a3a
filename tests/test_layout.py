"""The architecture rules of shared/STYLE.md, enforced: import layers, lint, the public API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sluicegate

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_import_layers_are_kept() -> None:
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "src", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_public_api() -> None:
    assert sluicegate.__all__ == ["__version__"]
    assert sluicegate.__version__
