"""Rebuild benchmarks/RESULTS.md from the pages in benchmarks/results/.

Each benchmark script writes its own page under results/; this joins them, in a fixed order,
into the one results page. Usage: .venv/bin/python benchmarks/collect_results.py
"""

from __future__ import annotations

from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"
RESULTS_PAGE = Path(__file__).parent / "RESULTS.md"
ORDER = ["localcloud", "validation", "accuracy", "pipeline", "serve", "drift"]

HEADER = """# M-HPE benchmark results

Every number below was measured on this project's 2-core machine by the script named in its
section; rerun a script to refresh its page in `benchmarks/results/`, then run
`benchmarks/collect_results.py` to rebuild this page. Machines were shared with other work
while these ran, so the load average noted in a section matters when comparing numbers.
"""


def main() -> None:
    pages = sorted(RESULTS_DIR.glob("*.md"), key=lambda p: (ORDER + [p.stem]).index(p.stem))
    sections = [HEADER] + [page.read_text().strip() + "\n" for page in pages]
    RESULTS_PAGE.write_text("\n".join(sections))
    print(f"wrote {RESULTS_PAGE} from {len(pages)} pages")


if __name__ == "__main__":
    main()
