"""Load the atheris targets in fuzz/ so pytest can run them briefly (smoke runs)."""

from __future__ import annotations

import importlib.util
import os
import sys

FUZZ_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fuzz"
)


def load(name: str):
    """fuzz/<name>.py as a module (fuzz/ goes on sys.path for its `common` import)."""
    if FUZZ_DIR not in sys.path:
        sys.path.insert(0, FUZZ_DIR)
    key = f"_pymosh_fuzz_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, os.path.join(FUZZ_DIR, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
