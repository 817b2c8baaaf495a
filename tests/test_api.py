"""The public surface: what `import streamtape` promises (httpx's test_exported_members habit)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import streamtape

PACKAGE = Path(streamtape.__file__)


def _type_checking_imports() -> dict[str, str]:
    """name -> module of the imports under ``if TYPE_CHECKING:`` in streamtape/__init__.py."""
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(PACKAGE.read_text())):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                for alias in stmt.names:
                    module = stmt.module or ""
                    found[alias.name] = (
                        f"{module}.{alias.name}" if module == "streamtape" else module
                    )
    return found


def test_all_the_lazy_table_and_the_typed_imports_agree() -> None:
    """One public surface, written three ways for three readers (users, runtime, mypy)."""
    lazy = streamtape._WHERE
    assert set(streamtape.__all__) == set(lazy) | {"__version__"}
    assert _type_checking_imports() == lazy


def test_importing_streamtape_loads_nothing_until_a_name_is_used() -> None:
    code = (
        "import sys, streamtape; "
        "assert not {'httpx', 'msgspec', 'zstandard', 'streamtape.tape'} & set(sys.modules), "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'msgspec', 'zstandard')); "
        "streamtape.Tape; assert 'streamtape.tape' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_exported_name_exists_and_claims_the_package() -> None:
    for name in streamtape.__all__:
        member = getattr(streamtape, name)
        module = getattr(member, "__module__", None) or getattr(member, "__name__", "")
        if name not in {"__version__", "INSTANT", "Event"}:
            assert str(module).startswith("streamtape"), name


def test_errors_share_one_base() -> None:
    for error in (
        streamtape.CassetteError,
        streamtape.DecodeError,
        streamtape.NoMatchError,
        streamtape.NetworkBlockedError,
    ):
        assert issubclass(error, streamtape.StreamtapeError)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Tapes'"):
        streamtape.Tapes  # noqa: B018
    assert "Tape" in dir(streamtape)
