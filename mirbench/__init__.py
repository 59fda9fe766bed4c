"""mirbench: a benchmark and evaluation harness for music classification and tagging."""

__version__ = "0.1.0"
