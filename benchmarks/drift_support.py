"""Shared helpers of the drift benchmarks: machine facts and the results page's sections."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import evidently
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "drift.md"
PAGE_TITLE = (
    "## Drift detection and retraining\n\n"
    "Each section is written by the script it names; rerun a script to replace its section.\n"
)


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"nproc {os.cpu_count()}; Python {platform.python_version()}, evidently "
        f"{evidently.__version__}, pandas {pd.__version__}; {platform.platform()}; load average "
        f"{load:.1f} at the start (the machine is shared)"
    )


def write_section(name: str, text: str) -> None:
    """Replace the section between this script's markers in drift.md, or append it."""
    start, end = f"<!-- {name} -->\n", f"<!-- /{name} -->\n"
    block = start + text.rstrip("\n") + "\n" + end
    page = RESULTS.read_text() if RESULTS.exists() else PAGE_TITLE
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    page = pattern.sub(lambda _: block, page) if pattern.search(page) else page + "\n" + block
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(page)
