"""Lint benchmark: 1,000 sites like examples/full.yaml, beside rendering the same sites (goal: at least as fast)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from edgesite.lint import lint
from edgesite.render import render
from edgesite.validation import load_sites

REPO = Path(__file__).resolve().parents[1]
SITES = int(os.environ.get("BENCH_SITES", "1000"))


def main() -> None:
    template = (REPO / "examples" / "full.yaml").read_text()
    sites = load_sites([(f"s{i}", template.replace("plant-hamburg", f"plant-{i:04d}")) for i in range(SITES)])
    start = time.perf_counter()
    findings = sum(len(lint(site)) for site in sites)
    lint_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for site in sites:
        render(site)
    render_seconds = time.perf_counter() - start
    print(f"lint:   {SITES} sites in {lint_seconds:.2f} s = {SITES / lint_seconds:,.0f} sites/s ({findings} findings)")
    print(f"render: {SITES} sites in {render_seconds:.2f} s = {SITES / render_seconds:,.0f} sites/s (objects, no YAML text)")
    print(f"lint is {render_seconds / lint_seconds:.0f}x as fast as rendering (goal: at least 1x)")


if __name__ == "__main__":
    main()
