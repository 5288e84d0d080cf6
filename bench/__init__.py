"""pymosh's benchmark suite: micro (pytest-benchmark) and end-to-end, vs Mosh 1.4.0 and pyte."""

import importlib.util as _importlib_util
import os as _os

ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))


def child_pythonpath(*extra: str) -> str:
    """PYTHONPATH for processes the benches start.

    An installed pymosh (with its compiled fast paths) is what we measure; the source
    tree's ``src`` is added only where pymosh is not importable otherwise, so a clean
    checkout never silently benchmarks the pure-Python twins.
    """
    parts = list(extra)
    if _importlib_util.find_spec("pymosh") is None:
        parts.append(_os.path.join(ROOT, "src"))
    parts += [p for p in _os.environ.get("PYTHONPATH", "").split(_os.pathsep) if p]
    return _os.pathsep.join(_os.path.abspath(p) for p in parts)
