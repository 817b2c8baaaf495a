"""`find_frames` in C built without SIMD (`STREAMTAPE_NO_SIMD`): the code machines without SSE2
run (ARM, among others), built here so the tests compare it with the other two on x86-64 too."""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

from streamtape import sse

SOURCE = Path(sse.__file__).parent / "_speedups.c"


@functools.cache
def portable_find_frames() -> sse.FindFrames | None:
    """The portable build's `find_frames`, or None without a C compiler (CI, which sets
    STREAMTAPE_REQUIRE_SPEEDUPS, has one: there a failed build is an error)."""
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if shutil.which(compiler[0]) is None:
        assert not os.environ.get("STREAMTAPE_REQUIRE_SPEEDUPS"), f"no C compiler: {compiler[0]}"
        return None
    limited = [] if sysconfig.get_config_var("Py_GIL_DISABLED") else ["-DPy_LIMITED_API=0x030A0000"]
    out = Path(tempfile.mkdtemp(prefix="streamtape-portable-")) / (
        "_speedups" + importlib.machinery.EXTENSION_SUFFIXES[0]
    )
    command = [
        *compiler, "-shared", "-fPIC", "-O2", "-DSTREAMTAPE_NO_SIMD", *limited,
        "-I", sysconfig.get_paths()["include"], str(SOURCE), "-o", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location("_speedups", out)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    find: sse.FindFrames = module.find_frames
    return find
