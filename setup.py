"""The optional compiled row scanner; all other packaging settings are in pyproject.toml.

Without a C compiler the install still succeeds (``optional=True``) and results are decoded
by msgspec alone, with the same frames, only slower (see docs/performance.md).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("watch_pandas._scan", ["watch_pandas/_scan.c"], optional=True)])
