"""Build the optional C fast path of the SSE parser (streamtape/_speedups.c).

Everything else is in pyproject.toml. The extension is optional: without a C compiler (or without
the Python headers) the build goes on with a warning that says so, and streamtape.sse uses the
same fast path written in Python (``streamtape.sse.SPEEDUPS`` is then False).
"""

import sys

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


setup(
    ext_modules=[Extension("streamtape._speedups", ["streamtape/_speedups.c"])],
    cmdclass={"build_ext": OptionalBuildExt},
)
