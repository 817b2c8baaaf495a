"""Build the optional C fast path of the SSE decoder (streamtape/_speedups.c).

Everything else is in pyproject.toml. The extension is optional: without a C compiler (or without
the Python headers) the build goes on with a warning that says so, and streamtape.sse uses the
same function written in Python (``streamtape.sse.SPEEDUPS`` is then False). It uses only the
limited C API of Python 3.10, so a wheel built once (tagged abi3) serves every later CPython;
free-threaded builds, which have no limited API, get a version-specific build.
"""

import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that reports a failed optional extension plainly instead of failing the build."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all: setuptools raises before compiling
            self._warn(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(exc)

    @staticmethod
    def _warn(exc: Exception) -> None:
        print(
            "WARNING: streamtape's C fast path (streamtape._speedups) was not built "
            f"({type(exc).__name__}: {exc}). streamtape works without it, decoding about 2x "
            "slower with the same results; install a C compiler and the Python headers, then "
            "reinstall, to build it.",
            file=sys.stderr,
        )


LIMITED = not sysconfig.get_config_var("Py_GIL_DISABLED")

setup(
    ext_modules=[
        Extension(
            "streamtape._speedups",
            ["streamtape/_speedups.c"],
            py_limited_api=LIMITED,
            define_macros=[("Py_LIMITED_API", "0x030A0000")] if LIMITED else [],
        ),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
    options={"bdist_wheel": {"py_limited_api": "cp310"}} if LIMITED else {},
)
