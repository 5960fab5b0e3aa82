"""The README's quickstart runs as written, against a real server."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import Server, run_python

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart() -> str:
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "no python code block in the Quickstart section"
    return m.group(1)


def test_quickstart_runs(server: Server) -> None:
    r = run_python(quickstart(), MODSYNCLOG_ADDR=server.addr, MODSYNCLOG_DATA_DIR=str(server.data_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 5, r.stdout
    assert lines[0].endswith(" 0 1101 b'hello'")
    assert lines[4].endswith(" 4 1001 b'row 2'")


def test_examples_pass_mypy_strict() -> None:
    import importlib.util
    import subprocess
    import sys

    import pytest

    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (optional: pip install mypy)")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(README.parent / "examples")],
        cwd=README.parent / "tests", capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
