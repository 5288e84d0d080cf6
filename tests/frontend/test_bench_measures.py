"""The bench's instruments: CPU below a clock tick, PSS, the many-sessions table."""

from __future__ import annotations

import os
import time

from bench.e2e import procstat
from bench.report import Plots, sessions_section


def test_cpu_seconds_resolves_below_a_clock_tick() -> None:
    # /proc/PID/stat counts 10 ms ticks: 3 ms of work would read 0 or 10 ms there
    before = procstat.cpu_seconds(os.getpid())
    t0 = time.process_time()
    while time.process_time() - t0 < 0.003:
        pass
    spent = time.process_time() - t0
    delta = procstat.cpu_seconds(os.getpid()) - before
    assert spent * 0.8 <= delta < spent + 0.005


def test_cpu_and_memory_of_a_gone_process_are_none() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert procstat.cpu_seconds(pid) is None
    assert procstat.pss_mib(pid) is None
    assert procstat.wakeups(pid) is None


def test_wakeups_count_each_sleep() -> None:
    before = procstat.wakeups(os.getpid())
    for _ in range(5):
        time.sleep(0.001)
    assert before is not None and 5 <= procstat.wakeups(os.getpid()) - before < 50


def test_pss_is_at_most_rss() -> None:
    pss, rss = procstat.pss_mib(os.getpid()), procstat.rss_mib(os.getpid())
    assert 0 < pss <= rss


def _run(n: int, pss: float, cpu: float, echo: list[list[float | None]]) -> dict:
    return {
        "n": n,
        "errors": [],
        "start_s": 1.0,
        "server_pss_total_mib": pss * n,
        "server_pss_mib": [pss] * n,
        "server_pss_waiting_mib": [pss / 2] * n,
        "server_rss_mib": [pss * 2] * n,
        "client_pss_mib": [pss] * n,
        "idle_server_cpu_pct": cpu,
        "idle_client_cpu_pct": cpu,
        "echo_ms": echo,
        "clean_exits": n,
    }


def test_sessions_table_has_ratios_and_the_in_time_count(tmp_path) -> None:
    data = {
        "config": {"idle_s": 60, "keys": 3},
        "impls": {
            "mosh": {"runs": [_run(2, 5.0, 0.1, [[10.0, 10.0, 12.0], [11.0, 9.0, 10.0]])]},
            "pymosh": {"runs": [_run(2, 10.0, 0.3, [[4.0, 5.0, 30.0], [20.0, 21.0, None]])]},
        },
    }
    plots = Plots(str(tmp_path))
    plots.plt = None  # no PNGs needed here
    md = sessions_section(data, plots, {"mosh": 10.0, "pymosh": 5.0})
    rows = {
        line.split(" | ")[1]: line.split(" | ")[2:]
        for line in md.splitlines()
        if line.startswith("| 2 |")
    }
    assert rows["servers' PSS total, MiB"] == ["10.0", "20.0", "2.00 |"]
    assert rows["idle CPU of all servers, %"][-1] == "3.00 |"
    assert rows["keys not echoed within 2 s"][:2] == ["0", "1"]
    # pymosh: medians 5 (in time) and a session with a lost key (never in time)
    assert rows["sessions whose echo median ≤ 2× one session's p50"][:2] == ["2/2", "1/2"]


def test_many_sessions_log_gives_idle_cpu_per_session_and_the_ratio() -> None:
    from bench.e2e.many import idle_cpu_lines

    result = {
        "config": {"sessions": [1, 10]},
        "impls": {
            "mosh": {"runs": [{"idle_server_cpu_pct": 0.01}, {"idle_server_cpu_pct": 0.08}]},
            "pymosh": {"runs": [{"idle_server_cpu_pct": 0.02}, {"idle_server_cpu_pct": None}]},
        },
    }
    assert idle_cpu_lines(result) == [
        "idle server CPU per session, 1 sessions: mosh 0.100 ms/s, pymosh 0.200 ms/s (2.00x)",
        "idle server CPU per session, 10 sessions: mosh 0.080 ms/s",
    ]
    # with wake-ups counted: per session, and the CPU each costs
    result["impls"]["mosh"]["runs"][1]["idle_server_wakeups_per_s"] = 10 * 2 / 3
    assert idle_cpu_lines(result)[1] == (
        "idle server CPU per session, 10 sessions: mosh 0.080 ms/s [0.67 wake-ups/s, 120 us each]"
    )
