"""The import direction of the design: each module imports only its own layer and those below,
and the table below lists every import of the package's modules, so that a new one is a choice
made where a reviewer sees it."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "streamtape"

# The layers of docs/architecture.md, bottom up: a module imports its own layer and those below.
LAYERS: dict[str, set[str]] = {
    "leaves": {"_version", "_vocabulary", "_units", "_httpx_compat", "_jsonpath", "errors"}
    | {"events", "sse", "_speedups", "redact", "matching"},
    "decoding": {"decode", "accumulate", "_items", "results"},
    "cassette": {"reading", "cassette", "cassette.records", "cassette.interaction"}
    | {"cassette.reader", "cassette.writer", "cassette.lock"},
    "transport core": {"transport", "_readahead", "faults", "_fault_body", "seal"},
    "stacks": {"_stacks", "_patching", "_aiohttp", "_urllib3", "server", "_uvicorn"},
    "blocks": {"tape"},
    "views": {"render", "report", "_html", "diff", "scan", "convert"}
    | {"bench", "bench._inputs", "bench._report"},
    "faces": {
        "cli",
        "_cli_errors",
        "_cli_output",
        "_cli_mutate",
        "_cli_serve",
        "_cli_report",
        "_cli_diff",
    }
    | {"pytest_plugin", "__main__"},
    "facade": {"__init__"},  # re-exports the public names, loading each on first use
}
RANK = {module: rank for rank, modules in enumerate(LAYERS.values()) for module in modules}
LAYER = {module: name for name, modules in LAYERS.items() for module in modules}
UPWARD = {
    ("tape", "diff"): "drift mode gives diff's verdict on live streams",
}

# Every streamtape module each module imports (at any depth: inside functions and under
# TYPE_CHECKING too), exactly: an import added or dropped fails until this table says so.
IMPORTS: dict[str, set[str]] = {
    "_version": set(),
    "_vocabulary": set(),
    "_units": set(),
    "_httpx_compat": set(),
    "_jsonpath": set(),
    "errors": set(),
    "events": set(),
    "sse": {"_speedups"},  # its fast path in C, when built
    "redact": {"_jsonpath"},
    "matching": {"_jsonpath", "errors"},
    "decode": {"sse", "events", "errors"},
    "results": {"events", "_vocabulary"},
    "_items": {"events"},
    "accumulate": {"results", "_items", "events"},
    "reading": {"accumulate", "decode", "events", "results", "_vocabulary"},
    # the cassette package: its facade, the format, what a read interaction is, reader, writer
    "cassette": {
        "cassette.records",
        "cassette.interaction",
        "cassette.reader",
        "cassette.writer",
        "_vocabulary",
    },
    "cassette.records": set(),
    "cassette.interaction": {
        "cassette.records",
        "decode",
        "accumulate",
        "errors",
        "events",
        "reading",
    },
    "cassette.reader": {"cassette.records", "cassette.interaction", "errors", "_version"},
    "cassette.lock": {"errors"},
    "cassette.writer": {
        "cassette.records",
        "cassette.interaction",
        "cassette.reader",
        "cassette.lock",
        "redact",
        "errors",
        "_version",
        "_vocabulary",
    },
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
    },
    "seal": {"errors"},
    # the HTTP stacks besides httpx: one adapter each over the transport core
    "_stacks": {"transport", "cassette"},
    "_aiohttp": {"_stacks", "_readahead", "transport", "cassette", "seal"},
    "_urllib3": {"_stacks", "transport", "cassette", "seal"},
    "_patching": {"_httpx_compat", "_stacks", "_aiohttp", "_urllib3", "errors"},
    "server": {"cassette", "errors", "faults", "matching", "redact", "transport"},
    "_uvicorn": {"errors"},
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
        "seal",
        "_stacks",
        "_patching",
        "diff",
        "reading",
    },
    "_html": set(),
    "render": {"cassette", "decode", "events", "reading", "results"},
    "diff": {"_vocabulary", "_units", "cassette", "accumulate", "events", "sse", "errors"},
    "report": {"cassette", "accumulate", "events", "render", "diff", "_html", "_units"},
    "scan": {"cassette", "decode", "accumulate", "redact", "errors"},
    "convert": {"cassette", "decode", "events", "errors"},
    "bench._report": set(),
    "bench._inputs": {"cassette", "sse", "bench._report"},
    "bench": {"bench._inputs", "bench._report", "decode", "sse", "events"},
    "_cli_errors": {"errors"},
    "_cli_output": set(),
    "_cli_mutate": {
        "_cli_errors",
        "_cli_output",
        "faults",
        "_fault_body",
        "cassette",
        "_vocabulary",
    },
    "_cli_serve": {
        "_cli_errors",
        "_cli_output",
        "_vocabulary",
        "server",
        "_uvicorn",
        "_cli_mutate",
    },
    "_cli_report": {"_cli_errors", "_cli_output", "report"},
    "_cli_diff": {"_cli_output", "cassette", "diff", "report", "errors"},
    "cli": {
        "_cli_errors",
        "_cli_output",
        "_cli_mutate",
        "_cli_serve",
        "_cli_report",
        "_cli_diff",
        "_units",
        "_vocabulary",
        "transport",
        "cassette",
        "decode",
        "accumulate",
        "errors",
        "bench",  # inside the bench command only
        "convert",
        "render",
        "reading",
        "scan",
    },
    "pytest_plugin": {
        "_vocabulary",
        "errors",
        "tape",  # the rest load when a test first uses the marker or a fixture
        "faults",
        "server",  # inside tape_server only
        "_uvicorn",
        "diff",  # inside drift mode only
        "report",  # with --tape-report only
    },
    "__main__": {"cli"},
    "__init__": {
        "_version",
        "accumulate",
        "cassette.interaction",
        "cassette.reader",
        "cassette.writer",
        "decode",
        "errors",
        "events",
        "faults",
        "matching",
        "redact",
        "results",
        "sse",
        "tape",
        "transport",
    },
}
NEVER_TOGETHER = [("cli", "pytest_plugin"), ("pytest_plugin", "cli")]


def imported_modules(path: Path, module: str = "") -> set[str]:
    """The `streamtape.X` modules a file imports, at any depth of the file; ``module`` (its own
    dotted name) places relative imports."""
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["streamtape", *package[: len(package) - node.level + 1]]
                names = [".".join([*base, node.module] if node.module else base)]
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


def test_every_module_is_in_the_table_and_a_layer() -> None:
    assert set(IMPORTS) == set(MODULES), "add the module to IMPORTS, or drop its row"
    assert set(MODULES) <= set(RANK), "place the module in LAYERS"


@pytest.mark.parametrize("module", MODULES)
def test_a_module_imports_exactly_what_the_table_lists(module: str) -> None:
    found = imported_modules(FILES[module], module) - {module}
    listed = IMPORTS[module]
    assert found - listed == set(), f"streamtape/{module} imports more: update IMPORTS"
    assert listed - found == set(), f"streamtape/{module} no longer imports these: update IMPORTS"


@pytest.mark.parametrize("module", MODULES)
def test_imports_go_down_the_layers(module: str) -> None:
    upward = {
        target
        for target in IMPORTS[module]
        if RANK[target] > RANK[module] and (module, target) not in UPWARD
    }
    assert not upward, (
        f"streamtape/{module} ({LAYER[module]}) imports {sorted(upward)} from above its layer"
    )


def test_imports_flow_one_way() -> None:
    graphlib.TopologicalSorter(IMPORTS).prepare()  # CycleError names a cycle


def test_the_upward_exceptions_are_used() -> None:
    assert all(target in IMPORTS[module] for module, target in UPWARD)


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
    assert imported_modules(bad, "sse") == {"cassette", "tape"}
    assert RANK["cassette"] > RANK["sse"]
    assert RANK["tape"] > RANK["sse"]


def test_relative_imports_are_placed_in_their_package(tmp_path: Path) -> None:
    inner = tmp_path / "reader.py"
    inner.write_text("from .records import X\nfrom . import lock\nfrom ..errors import E\n")
    assert imported_modules(inner, "cassette.reader") == {
        "cassette.records",
        "cassette",
        "errors",
    }


@pytest.mark.parametrize(("a", "b"), NEVER_TOGETHER)
def test_cli_and_pytest_plugin_never_import_each_other(a: str, b: str) -> None:
    assert b not in imported_modules(FILES[a], a)
