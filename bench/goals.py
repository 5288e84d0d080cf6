"""The open issues' goals checked against this run's figures, for ``report.md``.

Every goal is a ratio pymosh ÷ Mosh 1.4.0 measured in the same run (or, for the memory
of one session, the absolute figure the issue names), so the report says in one table
what is met and what is not. Inputs are the JSON files ``python -m bench`` writes; a
figure whose measurement did not run is ``n/a``, never a pass.
"""

from __future__ import annotations

import statistics
from typing import Callable, NamedTuple

from bench.stats import med, pct

# scrollback on may cost no more than this over off (the bulk ratios are medians of a
# few runs on a shared machine: differences under ~10 % are noise there)
SCROLLBACK_NOISE = 1.10


class Goal(NamedTuple):
    issue: int
    what: str
    limit: str
    value: str  # the measured figure, formatted
    met: bool | None  # None: not measured in this run


def _ratio_goal(issue: int, what: str, limit: float, ours, mosh, unit: str = "ms") -> Goal:
    if ours is None or not mosh:
        return Goal(issue, what, f"≤ {limit:g}× Mosh", "n/a", None)
    ratio = ours / mosh
    value = f"{ratio:.2f}× ({ours:.3g} against {mosh:.3g} {unit})"
    return Goal(issue, what, f"≤ {limit:g}× Mosh", value, ratio <= limit)


def startup_goals(startup: dict | None) -> list[Goal]:
    """First prompt (direct and ``--local``) and server ready for a later session, from
    ``python -m bench.e2e.startup`` (its forker is warm: later sessions)."""
    runs = (startup or {}).get("runs", {})

    def median_of(name: str, key: str) -> float | None:
        return med(r.get(key) for r in runs.get(name, []))

    mosh_prompt = median_of("mosh", "prompt")
    return [
        _ratio_goal(
            17, "first prompt, server + client", 0.2, median_of("pymosh", "prompt"), mosh_prompt
        ),
        _ratio_goal(
            17,
            "first prompt, `pymosh --local`",
            0.2,
            median_of("pymosh --local", "prompt"),
            mosh_prompt,
        ),
        _ratio_goal(
            17,
            "server ready (`MOSH CONNECT`), a later session",
            1.0,
            median_of("pymosh", "server_ready"),
            median_of("mosh", "server_ready"),
        ),
    ]


def echo_goals(e2e: dict | None) -> list[Goal]:
    impls = (e2e or {}).get("impls", {})

    def samples(name: str) -> list[float]:
        sessions = impls.get(name, {}).get("sessions", [])
        return [x for s in sessions for x in (s.get("latency") or {}).get("samples_ms", [])]

    ours, mosh = samples("pymosh"), samples("mosh")
    return [
        _ratio_goal(
            17, f"keystroke echo p{int(q * 100)}, loopback", limit, pct(ours, q), pct(mosh, q)
        )
        for q, limit in ((0.5, 0.2), (0.9, 0.5), (0.99, 1.0))
    ]


def memory_goals(e2e: dict | None) -> list[Goal]:
    """One session's RSS no higher than when issue #17 was filed (15.6 / 20.3 MiB)."""
    sessions = ((e2e or {}).get("impls", {}).get("pymosh") or {}).get("sessions", [])
    goals = []
    for side, limit in (("server", 15.6), ("client", 20.3)):
        rss = med((s.get("rss_start_mib") or {}).get(side) for s in sessions)
        pss = med((s.get("pss_start_mib") or {}).get(side) for s in sessions)
        value = "n/a" if rss is None else f"{rss:.1f} MiB (PSS {pss or 0:.1f})"
        goals.append(
            Goal(
                17,
                f"{side} RSS, one session",
                f"≤ {limit} MiB",
                value,
                None if rss is None else rss <= limit,
            )
        )
    return goals


def sessions_goals(sessions: dict | None, single_p50: float | None) -> list[Goal]:
    """Idle CPU and PSS per session count; every session answering in time at the top."""
    impls = (sessions or {}).get("impls", {})
    runs = {n: {r["n"]: r for r in impls.get(n, {}).get("runs", [])} for n in ("mosh", "pymosh")}
    counts = sorted(set(runs["mosh"]) & set(runs["pymosh"]))
    floor = statistics.fmean((sessions or {}).get("floor", {}).get("cpu_ms_per_s") or [0.0])
    goals: list[Goal] = []
    for n in counts:
        ours, mosh = runs["pymosh"][n], runs["mosh"][n]
        goal = _ratio_goal(
            17,
            f"idle CPU of {n} servers",
            1.0,
            ours.get("idle_server_cpu_pct"),
            mosh.get("idle_server_cpu_pct"),
            "%",
        )
        mosh_per_session = 10.0 * (mosh.get("idle_server_cpu_pct") or 0.0) / n  # ms/s
        if floor and mosh_per_session and goal.met is False:
            # what any CPython program waking as often costs: the rest is pymosh's own turn
            goal = goal._replace(
                value=f"{goal.value}; floor, a bare CPython process waking alike: "
                f"{floor / mosh_per_session:.2f}× ({floor:.3f} ms/s against "
                f"{mosh_per_session:.3f} per session)"
            )
        goals.append(goal)
    if counts:
        top = counts[-1]
        goals.append(
            _ratio_goal(
                17,
                f"servers' PSS, {top} sessions",
                1.0,
                runs["pymosh"][top].get("server_pss_total_mib"),
                runs["mosh"][top].get("server_pss_total_mib"),
                "MiB",
            )
        )
        echoes = runs["pymosh"][top].get("echo_ms") or []
        if single_p50 and echoes:
            ok = sum(1 for e in echoes if None not in e and statistics.median(e) <= 2 * single_p50)
            goals.append(
                Goal(
                    17,
                    f"sessions answering within 2× one session's echo p50, {top} sessions",
                    f"{len(echoes)}/{len(echoes)}",
                    f"{ok}/{len(echoes)} (p50 {single_p50:.2f} ms)",
                    ok == len(echoes),
                )
            )
    return goals


def scrollback_goals(scrollback: dict | None) -> list[Goal]:
    """Bulk output with scrollback on (default lines) costs what it costs off."""
    runs = (scrollback or {}).get("runs", {})
    mosh, off = runs.get("mosh", {}), runs.get("pymosh scrollback off", {})
    on: dict = next(
        (
            v
            for k, v in runs.items()
            if k.startswith("pymosh scrollback") and k != "pymosh scrollback off"
        ),
        {},
    )
    goals = []
    for name in mosh:
        m, a, b = (r.get(name, {}).get("wall_s") for r in (mosh, off, on))
        if not (m and a and b):
            goals.append(Goal(14, f"{name} wall, scrollback on", "≤ off", "n/a", None))
            continue
        after = on[name].get("history_after_screen_s")
        lines = on[name].get("history_lines")
        detail = f"on {b / m:.2f}× / off {a / m:.2f}× Mosh"
        if lines is not None and after is not None:
            detail += f"; {lines} history lines, complete {after:.2f} s after the screen"
        goals.append(
            Goal(
                14,
                f"{name} wall, scrollback on",
                f"≤ off × {SCROLLBACK_NOISE:g}",
                detail,
                b <= a * SCROLLBACK_NOISE,
            )
        )
    return goals


def goals(
    e2e: dict | None,
    sessions: dict | None,
    startup: dict | None,
    scrollback: dict | None,
    single_p50: float | None,
) -> list[Goal]:
    parts: list[Callable[[], list[Goal]]] = [
        lambda: startup_goals(startup),
        lambda: echo_goals(e2e),
        lambda: sessions_goals(sessions, single_p50),
        lambda: memory_goals(e2e),
        lambda: scrollback_goals(scrollback),
    ]
    return [g for part in parts for g in part()]


def section(rows: list[Goal]) -> str:
    status = {True: "met", False: "**not met**", None: "n/a"}
    lines = ["| issue | goal | limit | this run | |", "|---|---|---|---|---|"]
    lines += [f"| #{g.issue} | {g.what} | {g.limit} | {g.value} | {status[g.met]} |" for g in rows]
    met = sum(1 for g in rows if g.met)
    measured = sum(1 for g in rows if g.met is not None)
    return (
        f"{met} of {measured} measured goals met in this run (ratios from this run only).\n\n"
        + "\n".join(lines)
        + "\n\n"
    )
