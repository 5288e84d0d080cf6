"""Shared helpers for the fuzz targets (atheris when run as scripts, hypothesis in pytest).

Every target module exposes ``check(data: bytes, impls) -> None`` which raises
``AssertionError`` (or any unexpected exception) on a bug, and ``main()`` which runs it
under atheris.  ``impls`` is a list of implementation modules (the pure-Python twin and,
when built, the Cython fast path) so that each input also checks that both agree.
"""

from __future__ import annotations

import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from pymosh import _accel  # noqa: E402

KEY = bytes(range(16))  # protocol.md §10.3 key AAECAwQFBgcICQoLDA0ODw


def implementations(name: str) -> list:
    """[twin] or [twin, fast] for "crypto" / "terminal" (fast only when built)."""
    mods = [importlib.import_module(_accel.FAST_PATHS[name])]
    fast = _accel.fast_module(name)
    if fast is not None:
        mods.append(fast)
    return mods


def corpus_dir(target: str) -> str:
    return os.path.join(ROOT, "fuzz", "corpus", target)


def corpus(target: str) -> list:
    """The seed inputs of a target, as bytes."""
    d = corpus_dir(target)
    out = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out.append(f.read())
    return out


def run_atheris(target: str, check, impls_name: str | None) -> None:
    """Run ``check`` under atheris with the seed corpus (extra argv go to libFuzzer)."""
    import atheris

    impls = implementations(impls_name) if impls_name else None

    def one(data: bytes) -> None:
        check(data, impls)

    args = list(sys.argv)
    if not any(a.startswith("-artifact_prefix=") for a in args):
        # crash files go to a temporary directory, not into the checkout
        import tempfile

        args.insert(1, "-artifact_prefix=" + tempfile.mkdtemp(prefix="fuzz-crashes-") + "/")
    if not any(not a.startswith("-") for a in args[1:]):
        # libFuzzer writes new inputs into the first directory: keep the seeds clean
        import tempfile

        args += [tempfile.mkdtemp(prefix=f"fuzz-{target}-"), corpus_dir(target)]
    atheris.instrument_all()
    atheris.Setup(args, one)
    atheris.Fuzz()
