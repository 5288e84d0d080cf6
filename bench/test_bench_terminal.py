"""Terminal micro benchmarks: emulator throughput per corpus (fast path, twin, pyte) and
display-diff time per frame.

Run: ``python -m bench`` or ``PYTHONPATH=src python -m pytest bench/test_bench_terminal.py
--benchmark-only``; ``PYMOSH_BENCH_QUICK=1`` shrinks the corpora. MB/s = corpus bytes /
mean time, reported in ``extra_info["MB/s"]``.
"""

from __future__ import annotations

import pytest

from pymosh import _accel
from pymosh.statesync.history import HistoryLog
from pymosh.terminal import emulator as twin

from .corpus import GENERATORS, make_corpus, pieces

CORPORA = {name: pieces(make_corpus(name)) for name in GENERATORS}
# `seq 1 N`: the shortest lines, so the most scrolls per byte (the worst case for history)
_SEQ = b"".join(b"%d\r\n" % i for i in range(1, 200_000))[: len(make_corpus("ascii_log"))]
HISTORY_CORPORA = {
    "seq": pieces(_SEQ),
    "ascii_log": CORPORA["ascii_log"],
    "sgr_ls": CORPORA["sgr_ls"],
}


def _module(impl: str):
    if impl == "py":
        return twin
    module = _accel.fast_module("terminal")
    if module is None:
        pytest.skip("_fastpath.terminal not built")
    return module


def _pyte_feeder():
    pyte = pytest.importorskip("pyte")

    def run(chunks: list[bytes]) -> None:
        stream = pyte.ByteStream(pyte.Screen(80, 24))
        for chunk in chunks:
            stream.feed(chunk)

    return run


@pytest.mark.parametrize("impl", ["c", "py", "pyte"])
@pytest.mark.parametrize("corpus", list(GENERATORS))
def test_throughput(benchmark, corpus: str, impl: str) -> None:
    chunks = CORPORA[corpus]
    size = sum(map(len, chunks))
    benchmark.group = f"feed 80x24 {corpus}"
    if impl == "pyte":
        run = _pyte_feeder()
    else:
        module = _module(impl)

        def run(chunks: list[bytes]) -> None:
            emu = module.Emulator(80, 24)
            for chunk in chunks:
                emu.feed(chunk)

    benchmark.pedantic(run, args=(chunks,), rounds=3, iterations=1)
    benchmark.extra_info["MB/s"] = round(size / benchmark.stats.stats.mean / 1e6, 3)


@pytest.mark.parametrize("impl", ["c", "py"])
@pytest.mark.parametrize("history", [0, 10000], ids=["history-off", "history-10000"])
@pytest.mark.parametrize("corpus", list(HISTORY_CORPORA))
def test_throughput_history(benchmark, corpus: str, history: int, impl: str) -> None:
    """Scrollback capture on (10,000 lines, captured after every 16 KiB piece as the server
    does after each read: rows stay unrendered in the emulator's ring) against off, on the
    corpora that scroll the most."""
    chunks = HISTORY_CORPORA[corpus]
    size = sum(map(len, chunks))
    benchmark.group = f"feed 80x24 {corpus} history"
    module = _module(impl)
    held = []

    def run(chunks: list[bytes]) -> None:
        emu = module.Emulator(80, 24)
        emu.set_history_limit(history)
        log = HistoryLog(history, emu)
        for chunk in chunks:
            emu.feed(chunk)
            log.capture(0)
        held.append(log.backlog)

    benchmark.pedantic(run, args=(chunks,), rounds=3, iterations=1)
    benchmark.extra_info["MB/s"] = round(size / benchmark.stats.stats.mean / 1e6, 3)
    benchmark.extra_info["history lines"] = held[-1]
    assert (held[-1] > 0) == bool(history)


def _frames(module, width: int, height: int, kind: str):
    old = module.Emulator(width, height)
    old.feed(make_corpus("ascii_log", width * height * 2, seed=7))
    new = old.copy()
    if kind == "typed char":
        new.feed(b"x")
    elif kind == "scrolled":
        new.feed(b"\r\nnew line of output\r\nand another")
    else:  # full repaint of a coloured screen
        new.feed(b"\x1b[H\x1b[2J\x1b[44m" + make_corpus("sgr_ls", width * height, seed=9))
    return old, new


@pytest.mark.parametrize("impl", ["c", "py"])
@pytest.mark.parametrize("kind", ["typed char", "scrolled", "full repaint"])
@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_diff_per_frame(benchmark, impl: str, kind: str, size) -> None:
    module = _module(impl)
    old, new = _frames(module, *size, kind)
    benchmark.group = f"new_frame {size[0]}x{size[1]} {kind}"
    out = benchmark(module.new_frame, True, old, new)
    assert out  # every case changes the screen
