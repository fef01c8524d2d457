"""How long hostile Markdown takes to render, against ordinary lesson text of the same length.

Run from the project root:

    .venv/bin/python benchmarks/markdown.py

Renders ordinary lesson text of the longest length a form accepts (100,000 characters), the best of
three, then each hostile input from `tests/test_markdown.py` at a quarter of that length and at the
full length, and prints CPU seconds, the ratio to ordinary text (the suite allows up to
`RENDER_BUDGET_RATIO`), and the growth from a quarter to the full length (about 4 when the time grows
with the length, 16 when it grows with its square; inputs that take milliseconds read noisily).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_markdown import ORDINARY, PATHOLOGICAL, RENDER_BUDGET_RATIO, render_seconds


def main() -> None:
    ordinary = min(render_seconds(ORDINARY)[0] for _ in range(3))
    print(f"ordinary lesson text, {len(ORDINARY):,} characters: {ordinary:.3f} s (the baseline)")
    print(f"{'input':<28} {'quarter s':>10} {'full s':>8} {'× ordinary':>11} {'growth':>7}")
    worst = 0.0
    for name, text in PATHOLOGICAL.items():
        quarter, _ = render_seconds(text[: len(text) // 4])
        full, _ = render_seconds(text)
        worst = max(worst, full / ordinary)
        print(f"{name:<28} {quarter:>10.3f} {full:>8.3f} {full / ordinary:>11.1f} {full / max(quarter, 1e-6):>7.1f}")
    print(f"slowest hostile input: {worst:.1f} × ordinary text (the suite allows {RENDER_BUDGET_RATIO} ×)")


if __name__ == "__main__":
    main()
