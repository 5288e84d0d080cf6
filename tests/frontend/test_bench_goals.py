"""The report's goals table: ratios from one run decide met / not met, a missing
measurement is never a pass."""

from __future__ import annotations

from bench import goals


def _startup(mosh: float, direct: float, local: float) -> dict:
    return {
        "runs": {
            "mosh": [{"prompt": mosh, "server_ready": 6.0}] * 3,
            "pymosh": [{"prompt": direct, "server_ready": 4.0}] * 3,
            "pymosh --local": [{"prompt": local}] * 3,
        }
    }


def test_first_prompt_goals_use_the_medians_of_one_run() -> None:
    rows = goals.startup_goals(_startup(270.0, 50.0, 60.0))
    assert [g.met for g in rows] == [True, False, True]
    assert rows[0].value.startswith("0.19×") and rows[1].value.startswith("0.22×")


def test_a_goal_not_measured_is_not_met() -> None:
    rows = goals.goals(None, None, None, None, None)
    assert rows and all(g.met is None and g.value == "n/a" for g in rows)
    assert goals.section(rows).startswith("0 of 0 measured goals met")


def test_idle_cpu_pss_and_answers_in_time_per_session_count() -> None:
    def run(n: int, cpu: float, pss: float, echo: list[list[float | None]]) -> dict:
        return {"n": n, "idle_server_cpu_pct": cpu, "server_pss_total_mib": pss, "echo_ms": echo}

    data = {
        "impls": {
            "mosh": {"runs": [run(1, 0.01, 5, []), run(10, 0.1, 50, [])]},
            "pymosh": {"runs": [run(1, 0.02, 4, []), run(10, 0.09, 45, [[1.0], [3.0, None]])]},
        }
    }
    data["floor"] = {"cpu_ms_per_s": [0.06, 0.08]}
    rows = goals.sessions_goals(data, single_p50=1.0)
    by_what = {g.what: g for g in rows}
    assert by_what["idle CPU of 1 servers"].met is False
    # a goal not met names the CPython floor against Mosh's per-session figure (0.1 ms/s)
    assert (
        "floor, a bare CPython process waking alike: 0.70×"
        in by_what["idle CPU of 1 servers"].value
    )
    assert "floor" not in by_what["idle CPU of 10 servers"].value
    assert by_what["idle CPU of 10 servers"].met is True
    assert by_what["servers' PSS, 10 sessions"].met is True
    in_time = by_what["sessions answering within 2× one session's echo p50, 10 sessions"]
    assert in_time.value.startswith("1/2") and in_time.met is False


def test_scrollback_on_may_cost_no_more_than_off_within_noise() -> None:
    def wall(s: float) -> dict:
        return {"wall_s": s, "history_lines": 10, "history_after_screen_s": 0.5}

    data = {
        "runs": {
            "mosh": {"cat a": wall(1.0), "cat b": wall(1.0)},
            "pymosh scrollback off": {"cat a": wall(0.40), "cat b": wall(0.40)},
            "pymosh scrollback 10k": {"cat a": wall(0.43), "cat b": wall(0.60)},
        }
    }
    rows = goals.scrollback_goals(data)
    assert [g.met for g in rows] == [True, False]
    assert "on 0.60× / off 0.40× Mosh" in rows[1].value
