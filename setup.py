"""Build the optional C fast path of the SSE parser (streamtape/_speedups.c).

Everything else is in pyproject.toml. The extension is optional: without a C compiler the
build goes on, and streamtape.sse uses the same fast path written in Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("streamtape._speedups", ["streamtape/_speedups.c"], optional=True),
    ]
)
