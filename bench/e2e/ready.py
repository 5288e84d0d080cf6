"""Server ready: launch of ``SERVER new`` → ``MOSH CONNECT`` read, session after session.

``python -m bench.e2e.ready [--rounds N] [--impl 'NAME=SERVER CMD|CLIENT CMD' ...]``

The same measurement as the end-to-end run's ``server_ready`` (``Session.start_server``),
without clients, so many rounds fit in seconds: stock Mosh and pymosh alternating, each
session ended as soon as it is ready. pymosh runs in a private state directory, so its
first session starts a per-user session forker and the later ones are served by it (as
for a user's later sessions on a host); the first session's figure is reported apart.
The forker is ended at the end (its pid from SO_PEERCRED on its socket).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import struct
import tempfile
import time

from .session import Impl, Session, SessionError


def _end_forker(state: str) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.path.join(state, "forker.sock"))
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        os.kill(struct.unpack("3i", creds)[0], signal.SIGTERM)
    except OSError:
        pass
    finally:
        sock.close()


def _one(impl: Impl, tag: str, state: str | None = None) -> float:
    """One session's server ready in ms; with ``state``, the session lives until a forker
    listens there (a session starts it after its own start-up)."""
    session = Session(impl, tag, relay=False)
    try:
        session.start_server()
        end = time.monotonic() + 10.0
        while state and time.monotonic() < end:
            if os.path.exists(os.path.join(state, "forker.sock")):
                break
            time.sleep(0.02)
        return session.times["server_ready"] * 1000.0
    finally:
        session.release_launcher()
        session._kill_everything()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--impl", action="append", default=[])
    args = parser.parse_args()
    impls = [Impl.mosh(), Impl.pymosh()]
    for spec in args.impl:
        name, _, cmds = spec.partition("=")
        server, _, client = cmds.partition("|")
        impls.append(Impl(name, server.split(), client.split()))
    states = {impl.name: tempfile.mkdtemp(prefix="pymosh-ready-") for impl in impls}
    for impl in impls:
        impl.env = dict(impl.env, PYMOSH_STATE_DIR=states[impl.name], PYMOSH_FORKER="1")
    first: dict[str, float] = {}
    later: dict[str, list[float]] = {impl.name: [] for impl in impls}
    try:
        for round_ in range(args.rounds + 1):
            order = impls if round_ % 2 == 0 else impls[::-1]
            for impl in order:
                starts_forker = os.path.basename(impl.server[0]) != "mosh-server"
                wait = states[impl.name] if starts_forker and impl.name not in first else None
                try:
                    ms = _one(impl, f"ready-{impl.name}-{round_}", wait)
                except SessionError as exc:
                    print(f"{impl.name}: {exc}")
                    continue
                if impl.name not in first:
                    first[impl.name] = ms
                else:
                    later[impl.name].append(ms)
    finally:
        for state in states.values():
            _end_forker(state)
    base = statistics.median(later[impls[0].name]) if later[impls[0].name] else None
    print(f"server ready, ms ({args.rounds} later sessions each; first session apart)")
    print(f"{'impl':10} {'first':>7} {'p50':>7} {'min':>7} {'max':>7} {'÷ ' + impls[0].name:>8}")
    for impl in impls:
        xs = later[impl.name]
        if not xs:
            print(f"{impl.name:10} n/a")
            continue
        p50 = statistics.median(xs)
        ratio = f"{p50 / base:.2f}" if base else "n/a"
        print(
            f"{impl.name:10} {first.get(impl.name, 0):7.2f} {p50:7.2f} {min(xs):7.2f} "
            f"{max(xs):7.2f} {ratio:>8}"
        )


if __name__ == "__main__":
    main()
