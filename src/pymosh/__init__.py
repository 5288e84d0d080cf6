"""pymosh: a mobile shell, wire-compatible with Mosh 1.4.0."""

__version__ = "0.1.0"
