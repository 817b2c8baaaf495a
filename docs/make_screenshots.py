"""Regenerate the report screenshots in this directory: each example cassette's
``streamtape report`` rendered in headless Chromium (tests/browser.py), 1280 px wide, and the
reasoning example also at a phone's 390 px.

Run: ``python docs/make_screenshots.py`` (needs ``chromium`` on PATH).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from browser import Browser  # noqa: E402

from streamtape.report import write_report  # noqa: E402

EXAMPLES = ["text-answer", "function-call", "reasoning", "openrouter-done", "failed-stream"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Browser() as browser:
        for name in EXAMPLES:
            html = write_report([f"cassettes/{name}.ndjson.zst"], Path(tmp) / f"{name}.html")
            widths = (1280, 390) if name == "reasoning" else (1280,)
            for width in widths:
                suffix = "" if width == 1280 else f"-{width}"
                out = HERE / f"report-{name}{suffix}.png"
                browser.open(html, width).screenshot(out)
                print(f"wrote {out}")


if __name__ == "__main__":
    main()
