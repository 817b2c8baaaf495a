"""The import direction of the design: each module imports only the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "streamtape"

# What each module may import from the package; a module not listed here fails the test, so a
# new module must be placed in the layering on purpose.
ALLOWED: dict[str, set[str] | None] = {
    "_version": set(),
    "_vocabulary": set(),
    "_units": set(),
    "_httpx_compat": set(),
    "errors": set(),
    "sse": {"_speedups"},  # its fast path in C, when built
    "events": set(),
    "_jsonpath": set(),
    "redact": {"errors", "_jsonpath"},
    "matching": {"errors", "_jsonpath"},
    "decode": {"sse", "events", "errors"},
    "results": {"events", "_vocabulary"},
    "_items": {"events"},
    "accumulate": {"results", "_items", "events", "errors"},
    "reading": {"accumulate", "decode", "events", "results", "_vocabulary"},
    # cassette.py is the facade of the four modules below it: format, model, reader, writer
    "_records": set(),
    "_interaction": {"_records", "decode", "accumulate", "errors", "events", "reading"},
    "_reader": {"_records", "_interaction", "errors", "_version"},
    "_lock": {"errors"},
    "_writer": {
        "_records",
        "_interaction",
        "_reader",
        "_lock",
        "redact",
        "errors",
        "_version",
        "_vocabulary",
    },
    "cassette": {"_records", "_interaction", "_reader", "_writer", "_vocabulary"},
    # faults: pure transforms of an Interaction, applied by the replay core
    "_fault_body": {"cassette"},
    "faults": {"_fault_body", "cassette", "errors", "results", "_vocabulary"},
    "_readahead": {"cassette", "_vocabulary"},
    "transport": {
        "_httpx_compat",
        "_readahead",
        "_vocabulary",
        "cassette",
        "faults",
        "matching",
        "redact",
        "errors",
        "_version",
    },
    "seal": {"errors"},
    # the HTTP stacks besides httpx: one adapter each over the transport core
    "_stacks": {"transport", "cassette"},
    "_aiohttp": {"_stacks", "transport", "cassette", "seal"},
    "_urllib3": {"_stacks", "transport", "cassette", "seal"},
    "_patching": {"_httpx_compat", "_stacks", "_aiohttp", "_urllib3", "errors"},
    "tape": {
        "_httpx_compat",
        "_vocabulary",
        "transport",
        "cassette",
        "faults",
        "matching",
        "redact",
        "errors",
        "accumulate",
        "events",
        "seal",
        "_stacks",
        "_patching",
        "diff",
        "reading",
    },
    "bench._inputs": {"cassette", "sse", "bench._report"},
    "bench._report": set(),
    "bench": {"bench._inputs", "bench._report", "decode", "sse", "events", "errors", "_version"},
    "server": {"cassette", "errors", "faults", "matching", "redact", "transport"},
    "_uvicorn": {"errors"},
    "_cli_errors": {"errors"},
    "_cli_serve": {"_cli_errors", "_vocabulary", "server", "_uvicorn", "_cli_mutate"},
    "_cli_mutate": {"_cli_errors", "faults", "_fault_body", "cassette", "errors", "_vocabulary"},
    "cli": {
        "_cli_errors",
        "_cli_mutate",
        "tape",
        "transport",
        "cassette",
        "decode",
        "accumulate",
        "events",
        "sse",
        "redact",
        "matching",
        "errors",
        "bench",  # inside the bench command only
        "convert",
        "render",
        "reading",
        "scan",
        "_version",
        "_cli_serve",
        "_cli_report",
        "_cli_diff",
        "_units",
        "_vocabulary",
    },
    "_html": set(),
    "report": {"cassette", "accumulate", "events", "render", "diff", "_html", "_units"},
    "diff": {"_vocabulary", "_units", "cassette", "accumulate", "events", "sse", "errors"},
    "_cli_report": {"_cli_errors", "report"},
    "_cli_diff": {"cassette", "diff", "report", "errors"},
    "scan": {"cassette", "decode", "accumulate", "redact", "errors"},
    "convert": {"cassette", "decode", "events", "sse", "errors", "_version"},
    "render": {"cassette", "decode", "accumulate", "events", "sse", "errors", "reading", "results"},
    "pytest_plugin": {
        "_vocabulary",
        "tape",
        "faults",
        "cassette",
        "accumulate",
        "errors",
        "matching",
        "redact",
        "transport",
        "server",  # inside tape_server only
        "_uvicorn",
        "diff",  # inside drift mode only
        "report",  # with --tape-report only
    },
    "__main__": {"cli", "render", "cassette", "decode", "accumulate"},
    "__init__": None,  # the facade re-exports everything
}
NEVER_TOGETHER = [("cli", "pytest_plugin"), ("pytest_plugin", "cli")]


def imported_modules(path: Path) -> set[str]:
    """The `streamtape.X` modules a file imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names = [f"streamtape.{node.module or ''}"]
            else:
                names = [node.module or ""]
                if node.module == "streamtape":
                    names = [f"streamtape.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {n.removeprefix("streamtape.") for n in names if n.startswith("streamtape.")}
    return found


def _module_name(path: Path) -> str:
    """``bench/_inputs.py`` -> ``bench._inputs``; a package's ``__init__.py`` is the package."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


FILES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
MODULES = sorted(FILES)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_lower_layers(module: str) -> None:
    assert module in ALLOWED, f"streamtape/{module} is not placed in the layering"
    allowed = ALLOWED[module]
    if allowed is None:
        return
    extra = imported_modules(FILES[module]) - allowed - {module}
    assert not extra, f"streamtape/{module} imports {sorted(extra)}, above or beside its layer"


def test_leaves_import_nothing_outside_stdlib_and_msgspec() -> None:
    for leaf in ("sse", "events", "errors", "redact", "matching"):
        path = PACKAGE / f"{leaf}.py"
        if not path.exists():
            continue
        tree = ast.parse(path.read_text())
        roots = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                roots.add(node.module.split(".")[0])
        assert roots <= {
            "__future__",
            "os",
            "re",
            "collections",
            "typing",
            "msgspec",
            "streamtape",
            "dataclasses",
            "json",
            "urllib",
            "base64",
            "math",
            "itertools",
            "functools",
            "enum",
            "copy",
            "sys",
            "difflib",
            "string",
            "types",
            "operator",
        }, f"{leaf}: {sorted(roots)}"


def test_the_layer_rule_itself_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "sse.py"
    bad.write_text("from streamtape.cassette import Cassette\nimport streamtape.tape\n")
    assert imported_modules(bad) == {"cassette", "tape"}


@pytest.mark.parametrize(("a", "b"), NEVER_TOGETHER)
def test_cli_and_pytest_plugin_never_import_each_other(a: str, b: str) -> None:
    path = PACKAGE / f"{a}.py"
    if path.exists():
        assert b not in imported_modules(path)
