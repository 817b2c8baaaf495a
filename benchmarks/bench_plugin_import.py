"""What the streamtape pytest plugin adds to a pytest run that uses no cassette.

    python benchmarks/bench_plugin_import.py [--runs 20]

A temporary project holds one plain test. pytest runs it in a fresh process with the plugin
loaded (as it is for everyone who installs streamtape) and with ``-p no:streamtape``,
alternately, ``--runs`` times each; the figure is the median of the paired differences. The
import alone (``python -X importtime``) is shown beside it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(folder: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def import_ms() -> float:
    """The plugin module's cumulative import time, with pytest already imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest, streamtape.pytest_plugin"],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(
        x for x in done.stderr.splitlines() if x.rstrip().endswith("streamtape.pytest_plugin")
    )
    return int(line.split("|")[1]) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
        run(folder)  # warm the file cache
        added = []
        for i in range(args.runs):
            if i % 2:  # alternate the order, so drift hits both alike
                without = run(folder, "-p", "no:streamtape")
                loaded = run(folder)
            else:
                loaded = run(folder)
                without = run(folder, "-p", "no:streamtape")
            added.append((loaded - without) * 1000)
        imports = [import_ms() for _ in range(5)]
    print(f"pytest run, plugin loaded minus not loaded: median {statistics.median(added):.1f} ms")
    print(f"  ({args.runs} pairs; spread p10 {sorted(added)[len(added) // 10]:.1f} ms)")
    imported = statistics.median(imports)
    print(f"import of streamtape.pytest_plugin after pytest: median {imported:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
