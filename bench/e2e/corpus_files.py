"""Write the bulk-output corpus into a directory, using ``bench.corpus`` when it exists.

``bench.corpus`` (the deterministic generator shared with the terminal micro benches) is
tried through a few plausible entry points; if none is available, a tiny built-in ASCII
log and SGR listing are written instead and the report says so.
"""

from __future__ import annotations

import inspect
import os
import random


def _fallback(name: str, size: int) -> bytes:
    rng = random.Random(name)
    out = bytearray()
    i = 0
    while len(out) < size:
        if name == "ascii_log":
            words = " ".join(
                rng.choice(
                    [
                        "GET",
                        "POST",
                        "/api/v1/items",
                        "200",
                        "404",
                        "ok",
                        "latency=12ms",
                        "user=alice",
                        "session",
                    ]
                )
                for _ in range(rng.randint(8, 40))
            )
            out += f"2026-01-01T00:00:{i % 60:02d}Z INFO [{i}] {words}\n".encode()
        else:
            out += f"\x1b[01;34mdir{i}\x1b[0m  \x1b[01;32mrun{i}.sh\x1b[0m  file{i}.txt\n".encode()
        i += 1
    return bytes(out[:size])


def _from_module(size: int) -> dict[str, bytes] | None:
    try:
        from bench import corpus  # type: ignore[attr-defined]
    except Exception:
        return None
    make, gens = getattr(corpus, "make_corpus", None), getattr(corpus, "GENERATORS", None)
    if callable(make) and isinstance(gens, dict) and gens:
        # the corpus holds bytes as a pty delivers them (\r\n); the file holds what a
        # program writes (\n), so that cat through the pty delivers the same bytes
        return {k: make(k, size).replace(b"\r\n", b"\n") for k in gens}
    for fname in ("all_corpora", "generate_all", "corpora", "build_all"):
        fn = getattr(corpus, fname, None)
        if callable(fn):
            try:
                data = _call_sized(fn, size)
            except Exception:
                continue
            if isinstance(data, dict) and data:
                return {k: _as_bytes(v) for k, v in data.items()}
    table = getattr(corpus, "CORPORA", None) or getattr(corpus, "GENERATORS", None)
    if isinstance(table, dict) and table:
        out = {}
        for k, fn in table.items():
            try:
                out[k] = _as_bytes(_call_sized(fn, size) if callable(fn) else fn)
            except Exception:
                continue
        if out:
            return out
    fn = getattr(corpus, "generate", None)
    names = getattr(corpus, "NAMES", None)
    if callable(fn) and names:
        out = {}
        for k in names:
            try:
                out[k] = _as_bytes(fn(k, size))
            except Exception:
                continue
        return out or None
    return None


def _call_sized(fn, size: int):
    params = inspect.signature(fn).parameters
    for kw in ("size", "nbytes", "n_bytes", "length"):
        if kw in params:
            return fn(**{kw: size})
    if params:
        return fn(size)
    return fn()


def _as_bytes(v) -> bytes:
    if isinstance(v, str):
        return v.encode()
    return bytes(v)


def write_corpus(directory: str, size: int) -> tuple[dict[str, str], str]:
    """Returns ({name: path}, source description)."""
    data = _from_module(size)
    source = "bench.corpus"
    if data is None:
        data = {n: _fallback(n, size) for n in ("ascii_log", "sgr_ls")}
        source = "built-in fallback (bench.corpus not available)"
    paths = {}
    for name, blob in data.items():
        path = os.path.join(directory, f"{name}.txt")
        with open(path, "wb") as f:
            f.write(blob)
        paths[name] = path
    return paths, source
