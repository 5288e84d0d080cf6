"""Render ``bench/out/report.md`` (+ one PNG per measurement) from the JSON results.

Inputs (each optional): ``micro.json`` (pytest-benchmark), ``e2e.json``
(``python -m bench.e2e``), ``trace_replay.json`` (``python -m bench.trace_replay``).
``python -m bench.report [--out DIR]`` re-renders without re-measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from bench import goals
from bench.stats import med, pct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
FAST = ("c", "fast", "fastpath")

# Mosh 1.4.0 on this machine kind (shared/docs/peers.md), for a sanity column.
PEERS_MOSH = {
    ("startup", "server ready (MOSH CONNECT), ms"): 6.6,
    ("startup", "first prompt on the client, ms"): 267,
    ("latency", "p50, ms"): 10.4,
    ("latency", "p99, ms"): 22,
    ("idle", "server→client packets/s"): 0.33,
    ("idle", "client→server packets/s"): 0.33,
    ("memory", "server RSS after start, MiB"): 9.7,
    ("memory", "client RSS after start, MiB"): 14.0,
}


# --------------------------------------------------------------------------- helpers
def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.{digits}g}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in r) + " |")
    return "\n".join(lines) + "\n"


class Plots:
    def __init__(self, out: str) -> None:
        self.out = out
        self.files: list[str] = []
        self.error = None
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            self.plt = plt
        except Exception as e:  # matplotlib is optional
            self.plt = None
            self.error = f"{type(e).__name__}: {e}"

    def save(self, fig, name: str) -> str:
        path = os.path.join(self.out, name)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        self.plt.close(fig)
        self.files.append(name)
        return f"![{name}]({name})\n"

    def bars(
        self,
        name: str,
        title: str,
        labels: list[str],
        series: dict[str, list],
        unit: str,
        log: bool = False,
    ) -> str:
        if self.plt is None:
            return ""
        plt = self.plt
        fig, ax = plt.subplots(
            figsize=(max(5, 1.1 * len(labels) * max(1, len(series)) ** 0.5 + 2), 3.4)
        )
        n = max(1, len(series))
        width = 0.8 / n
        for i, (sname, vals) in enumerate(series.items()):
            xs = [j + (i - (n - 1) / 2) * width for j in range(len(labels))]
            ax.bar(xs, [v if isinstance(v, (int, float)) else 0 for v in vals], width, label=sname)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
        if n > 1:
            ax.legend(fontsize=8)
        return self.save(fig, name)

    def lines(
        self, name: str, panels: list[tuple[str, str, dict[str, list[tuple]], bool]], xlabel: str
    ) -> str:
        """Side-by-side panels (title, y unit, {series: [(x, y), ...]}, log y?), log x."""
        if self.plt is None:
            return ""
        fig, axes = self.plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4))
        for ax, (title, unit, series, logy) in zip(axes if len(panels) > 1 else [axes], panels):
            for sname, points in series.items():
                pts = [(x, y) for x, y in points if isinstance(y, (int, float))]
                if pts:
                    ax.plot([x for x, _ in pts], [y for _, y in pts], "o-", label=sname)
            ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
            else:
                ax.set_ylim(bottom=0)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(unit)
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        return self.save(fig, name)

    def cdf(self, name: str, title: str, series: dict[str, list[float]], unit: str) -> str:
        if self.plt is None:
            return ""
        fig, ax = self.plt.subplots(figsize=(6, 3.4))
        for sname, samples in series.items():
            if samples:
                s = sorted(samples)
                ax.step(s, [(i + 1) / len(s) for i in range(len(s))], where="post", label=sname)
        ax.set_xscale("log")
        ax.set_xlabel(unit)
        ax.set_ylabel("fraction of keystrokes")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return self.save(fig, name)


def slug(text: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in text.lower())
    return "_".join(p for p in keep.split("_") if p)[:60]


# --------------------------------------------------------------------------- micro
def micro_section(data: dict, plots: Plots) -> str:
    benches = data.get("benchmarks", [])
    if not benches:
        return "_no micro benchmark results_\n"
    groups: dict[str, list[dict]] = {}
    for b in benches:
        groups.setdefault(b.get("group") or b["name"].split("[")[0], []).append(b)
    md = [
        "Median time per call; **× fast** = how many times slower than the fast path "
        "(`c`) in the same row group (the fast path's own row is 1). MB/s where the bench "
        "records it (`extra_info`).\n\n",
        _micro_summary(groups),
    ]
    for gname, items in groups.items():
        rows = []
        by_variant: dict[str, dict[str, dict]] = {}
        for b in items:
            params = dict(b.get("params") or {})
            impl = str(
                params.pop("impl", None)
                or params.pop("implementation", None)
                or b.get("param")
                or b["name"]
            )
            variant = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
            by_variant.setdefault(variant, {})[impl] = b
        labels, medians = [], []
        for variant, impls in by_variant.items():
            base = next((impls[k] for k in FAST if k in impls), None)
            order = sorted(impls, key=lambda k: (k not in FAST, k))
            for impl in order:
                b = impls[impl]
                st = b["stats"]
                extra = b.get("extra_info") or {}
                nbytes = extra.get("bytes")
                mbs = extra.get("MB/s") or (nbytes / st["median"] / 1e6 if nbytes else None)
                ratio = st["median"] / base["stats"]["median"] if base else None
                rows.append(
                    [
                        impl,
                        variant or "—",
                        _time(st["median"]),
                        _time(st["min"]),
                        fmt(1 / st["median"] if st["median"] else None),
                        fmt(mbs),
                        f"{ratio:.2f}×" if ratio is not None else "—",
                        st["rounds"],
                    ]
                )
                labels.append(f"{impl} {variant}".strip())
                medians.append(st["median"] * 1e6)
        md.append(f"### {gname}\n\n")
        md.append(
            table(["impl", "variant", "median", "min", "ops/s", "MB/s", "× fast", "rounds"], rows)
        )
        md.append(
            "\n"
            + plots.bars(
                f"micro_{slug(gname)}.png",
                gname,
                labels,
                {"median": medians},
                "µs per call",
                log=True,
            )
            + "\n"
        )
    return "".join(md)


def _micro_summary(groups: dict[str, list[dict]]) -> str:
    """One row per (group, variant): the fast path's median and every other impl's ×."""
    impl_names: list[str] = []
    rows_src = []
    for gname, items in groups.items():
        by_variant: dict[str, dict[str, dict]] = {}
        for b in items:
            params = dict(b.get("params") or {})
            impl = str(params.pop("impl", None) or b.get("param") or b["name"])
            if impl not in impl_names and impl not in FAST:
                impl_names.append(impl)
            variant = ", ".join(
                f"{v}"
                for k, v in sorted(params.items())
                if k not in ("corpus",) or gname.find(str(v)) < 0
            )
            by_variant.setdefault(variant, {})[impl] = b
        for variant, impls in by_variant.items():
            rows_src.append((gname, variant, impls))
    if not rows_src:
        return ""
    header = ["group", "variant", "fast path median"] + [f"{n} ×" for n in impl_names]
    rows = []
    for gname, variant, impls in rows_src:
        base = next((impls[k] for k in FAST if k in impls), None)
        row = [gname, variant or "—", _time(base["stats"]["median"]) if base else "n/a"]
        for n in impl_names:
            b = impls.get(n)
            row.append(
                f"{b['stats']['median'] / base['stats']['median']:.2f}×" if b and base else "—"
            )
        rows.append(row)
    return (
        "**Summary** (× = that implementation's median over the fast path's: above 1 "
        "means the fast path is faster).\n\n" + table(header, rows) + "\n"
    )


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} µs"


# --------------------------------------------------------------------------- e2e
def _collect(entry: dict) -> dict:
    """Per-implementation aggregates over its sessions (medians; latency pooled)."""
    sessions = entry.get("sessions", [])
    agg: dict = {"n": len(sessions), "errors": {}}
    for s in sessions:
        for k, v in s.get("errors", {}).items():
            agg["errors"].setdefault(k, v)
    lat = [x for s in sessions for x in (s.get("latency") or {}).get("samples_ms", [])]
    agg["latency_samples"] = lat
    agg["latency_misses"] = sum((s.get("latency") or {}).get("misses", 0) for s in sessions)

    def m(path):
        vals = []
        for s in sessions:
            v = s
            for p in path:
                v = v.get(p) if isinstance(v, dict) else None
            vals.append(v)
        return med(vals)

    agg["m"] = m
    # idle: totals over all sessions (a 3 s heartbeat needs more than one short window)
    secs = sum((s.get("idle") or {}).get("seconds", 0) for s in sessions)
    if secs:

        def tot(key):
            vals = [(s.get("idle") or {}).get(key) for s in sessions if s.get("idle")]
            return None if any(v is None for v in vals) else sum(vals)

        agg["idle"] = {"seconds": secs}
        for key in ("c2s_packets", "s2c_packets", "server_cpu_s", "client_cpu_s"):
            v = tot(key)
            agg["idle"][key] = None if v is None else v / secs
    else:
        agg["idle"] = {}
    agg["bulk_names"] = []
    for s in sessions:
        for name in s.get("bulk") or {}:
            if name not in agg["bulk_names"]:
                agg["bulk_names"].append(name)
    return agg


def e2e_section(data: dict, plots: Plots) -> str:
    impls = data.get("impls", {})
    names = list(impls)
    if not names:
        return "_no end-to-end results_\n"
    base = "mosh" if "mosh" in impls else names[0]
    others = [n for n in names if n != base]
    agg = {n: _collect(impls[n]) for n in names}
    cfg = data.get("config", {})
    md = [
        f"Loopback, 80×24, `bash --norc`, datagrams through a counting relay; "
        f"{cfg.get('rounds')} rounds alternating {' / '.join(names)}. Medians over sessions "
        f"(latency: percentiles over all keystrokes). **ratio** = {{other}} / {base}: "
        f"below 1 is better for every row. Corpus: {data.get('corpus', {}).get('source')}, "
        f"{fmt(data.get('corpus', {}).get('bytes_each', 0) / 2**20)} MiB each. "
        f"Load average before/after: {_load(data, 'start')} / {_load(data, 'end')} "
        f"on {data.get('machine', {}).get('cpus')} CPUs (a load above the CPU count means "
        f"CPU-bound rows are inflated by other work; the ratios still compare like with "
        f"like only roughly).\n\n"
    ]

    def cell(name: str, value):
        entry = impls[name]
        if value is not None:
            return value
        if entry.get("error"):
            return f"n/a ({_short(entry['error'])})"
        return "n/a"

    def section(
        title: str,
        key: str,
        metrics: list[tuple[str, callable]],
        plot_unit: str = "",
        with_peers: bool = True,
    ) -> None:
        header = ["metric"] + [f"{n}" for n in names] + [f"ratio {o}/{base}" for o in others]
        peer_rows = with_peers and any((key, label) in PEERS_MOSH for label, _ in metrics)
        if peer_rows:
            header.append("peers.md Mosh")
        rows = []
        for label, getter in metrics:
            vals = {n: getter(agg[n]) for n in names}
            row = [label] + [cell(n, vals[n]) for n in names]
            for o in others:
                b, v = vals[base], vals[o]
                row.append(
                    f"{v / b:.2f}"
                    if isinstance(v, (int, float)) and isinstance(b, (int, float)) and b
                    else "—"
                )
            if peer_rows:
                row.append(fmt(PEERS_MOSH.get((key, label))))
            rows.append(row)
        md.append(f"### {title}\n\n" + table(header, rows) + "\n")
        if plot_unit:
            labels = [r[0] for r in rows]
            series = {n: [getter(agg[n]) for _, getter in metrics] for n in names}
            md.append(plots.bars(f"e2e_{key}.png", title, labels, series, plot_unit) + "\n")

    floor = (data.get("floor") or {}).get("latency", {}).get("samples_ms", [])
    section(
        "Startup",
        "startup",
        [
            (
                "server ready (MOSH CONNECT), ms",
                lambda a: _ms(a["m"](["startup", "server_ready_s"])),
            ),
            (
                "first prompt on the client, ms",
                lambda a: _ms(a["m"](["startup", "first_prompt_s"])),
            ),
        ],
        "ms",
    )
    section(
        "Keystroke echo latency",
        "latency",
        [
            ("p50, ms", lambda a: pct(a["latency_samples"], 0.5)),
            ("p90, ms", lambda a: pct(a["latency_samples"], 0.9)),
            ("p99, ms", lambda a: pct(a["latency_samples"], 0.99)),
            (
                "keystrokes (missed)",
                lambda a: (
                    f"{len(a['latency_samples'])} ({a['latency_misses']})" if a["n"] else None
                ),
            ),
        ],
    )
    if floor:
        md.append(
            f"Floor (kernel echo on a bare pty, `cat`): p50 {fmt(pct(floor, 0.5))} ms, "
            f"p90 {fmt(pct(floor, 0.9))} ms, p99 {fmt(pct(floor, 0.99))} ms.\n\n"
        )
    series = {n: agg[n]["latency_samples"] for n in names}
    if floor:
        series["pty floor"] = floor
    md.append(plots.cdf("e2e_latency.png", "keystroke echo latency (CDF)", series, "ms") + "\n")

    bulk_names = []
    for n in names:
        bulk_names += [b for b in agg[n]["bulk_names"] if b not in bulk_names]
    for what, key, unit, conv in [
        ("wall time to marker + prompt", "wall_s", "s", None),
        ("server CPU", "server_cpu_s", "s", None),
        ("client CPU", "client_cpu_s", "s", None),
        ("wire bytes server→client", "wire_s2c_bytes", "KiB", 1 / 1024),
        ("datagrams server→client", "wire_s2c_packets", "", None),
    ]:
        metrics = [
            (b, (lambda a, b=b, key=key, conv=conv: _scale(a["m"](["bulk", b, key]), conv)))
            for b in bulk_names
        ]
        section(
            f"Bulk output: {what}" + (f" ({unit})" if unit else ""),
            f"bulk_{key}",
            metrics,
            unit or "count",
            with_peers=False,
        )
    md.append(
        "peers.md Mosh: `cat` 16 MiB ASCII log 1.09 s wall / 1.06 s server CPU; 16 MiB "
        "truecolor 1.70 s / 1.47 s / 0.45 s client; `seq 1 2000000` 1.65 s; 68 KiB on the "
        "wire for 16 MiB ASCII.\n\n"
    )

    section(
        "Idle",
        "idle",
        [
            ("seconds observed (all sessions)", lambda a: a["idle"].get("seconds")),
            ("server→client packets/s", lambda a: a["idle"].get("s2c_packets")),
            ("client→server packets/s", lambda a: a["idle"].get("c2s_packets")),
            ("server CPU %", lambda a: _pct(a["idle"].get("server_cpu_s"))),
            ("client CPU %", lambda a: _pct(a["idle"].get("client_cpu_s"))),
        ],
        "",
    )
    section(
        "Memory (RSS and PSS)",
        "memory",
        [
            ("server RSS after start, MiB", lambda a: a["m"](["rss_start_mib", "server"])),
            ("client RSS after start, MiB", lambda a: a["m"](["rss_start_mib", "client"])),
            ("server RSS after bulk, MiB", lambda a: a["m"](["rss_after_bulk_mib", "server"])),
            ("client RSS after bulk, MiB", lambda a: a["m"](["rss_after_bulk_mib", "client"])),
            ("server PSS after start, MiB", lambda a: a["m"](["pss_start_mib", "server"])),
            ("client PSS after start, MiB", lambda a: a["m"](["pss_start_mib", "client"])),
            ("server PSS after bulk, MiB", lambda a: a["m"](["pss_after_bulk_mib", "server"])),
            ("client PSS after bulk, MiB", lambda a: a["m"](["pss_after_bulk_mib", "client"])),
        ],
        "MiB",
    )
    errs = [(n, k, v) for n in names for k, v in agg[n]["errors"].items()]
    errs += [(n, "session", impls[n]["error"]) for n in names if impls[n].get("error")]
    if errs:
        md.append(
            "### Problems\n\n"
            + "".join(f"- **{n}** {k}: {_short(v, 300)}\n" for n, k, v in errs)
            + "\n"
        )
    return "".join(md)


def _load(data: dict, when: str) -> str:
    v = (data.get("machine") or {}).get(f"loadavg_{when}")
    return " ".join(f"{x:.1f}" for x in v) if v else "?"


def _pct(v):
    return None if v is None else 100.0 * v


def _ms(v):
    return None if v is None else v * 1000.0


def _scale(v, conv):
    return None if v is None else (v * conv if conv else v)


def _short(text: str, n: int = 80) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- many sessions
def sessions_section(data: dict, plots: Plots, single_p50: dict[str, float]) -> str:
    """Rows (N, metric); a column per implementation and the ratio to the base."""
    impls = data.get("impls", {})
    names = list(impls)
    if not names:
        return "_no results_\n\n"
    base = "mosh" if "mosh" in impls else names[0]
    others = [n for n in names if n != base]
    runs = {n: {r["n"]: r for r in impls[n].get("runs", [])} for n in names}
    counts = sorted({k for r in runs.values() for k in r})
    for n in names:  # the reference for "answers in time": one session's echo p50
        if n not in single_p50 and 1 in runs[n]:
            single_p50[n] = pct(_echo(runs[n][1]), 0.5)
    cfg = data.get("config", {})

    def per(r, key):
        vals = [v for v in r.get(key) or [] if v is not None]
        return statistics.mean(vals) if vals else None

    def in_time(r, name):
        ref = single_p50.get(name)
        if not ref or not r.get("echo_ms"):
            return None
        ok = sum(1 for e in r["echo_ms"] if None not in e and statistics.median(e) <= 2 * ref)
        return f"{ok}/{r['n']}"

    metrics = [
        ("servers' PSS total, MiB", lambda r, _: r.get("server_pss_total_mib")),
        ("PSS per server, MiB", lambda r, _: per(r, "server_pss_mib")),
        (
            "PSS per server waiting for its client, MiB",
            lambda r, _: per(r, "server_pss_waiting_mib"),
        ),
        ("RSS per server, MiB", lambda r, _: per(r, "server_rss_mib")),
        ("PSS per client, MiB", lambda r, _: per(r, "client_pss_mib")),
        ("idle CPU of all servers, %", lambda r, _: r.get("idle_server_cpu_pct")),
        ("idle CPU of all clients, %", lambda r, _: r.get("idle_client_cpu_pct")),
        ("echo p50, ms", lambda r, _: pct(_echo(r), 0.5)),
        ("echo p90, ms", lambda r, _: pct(_echo(r), 0.9)),
        ("echo p99, ms", lambda r, _: pct(_echo(r), 0.99)),
        ("echo max, ms", lambda r, _: max(_echo(r)) if _echo(r) else None),
        (
            "keys not echoed within 2 s",
            lambda r, _: sum(e.count(None) for e in r["echo_ms"]) if r.get("echo_ms") else None,
        ),
        ("sessions whose echo median ≤ 2× one session's p50", lambda r, name: in_time(r, name)),
        ("all sessions up (server, client, prompt), s", lambda r, _: r.get("start_s")),
        (
            "sessions that ended cleanly on `exit`",
            lambda r, _: (
                f"{r.get('clean_exits')}/{r['n']}" if r.get("clean_exits") is not None else None
            ),
        ),
    ]
    header = ["sessions", "metric"] + names + [f"ratio {o}/{base}" for o in others]
    rows = []
    for k in counts:
        for label, get in metrics:
            vals = {n: (get(runs[n][k], n) if k in runs[n] else None) for n in names}
            row = [str(k), label] + [vals[n] if vals[n] is not None else "n/a" for n in names]
            for o in others:
                a, b = vals[o], vals[base]
                row.append(
                    f"{a / b:.2f}"
                    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b
                    else "—"
                )
            rows.append(row)
    refs = ", ".join(f"{n} {fmt(v)} ms" for n, v in single_p50.items() if v)
    md = [
        f"N concurrent idle sessions on loopback, each a server, its own client in a pty and "
        f"`bash --norc`, no relay; idle window {fmt(cfg.get('idle_s'))} s per run (CPU from "
        f"`/proc/PID/task/*/schedstat`, ns); then {cfg.get('keys')} keystrokes per session, "
        f"one session at a time, clients with `MOSH_PREDICTION_DISPLAY=never` (the "
        f"servers' answer, not a local prediction). PSS from `/proc/PID/smaps_rollup` (shared pages divided "
        f"among the processes mapping them). One session's echo p50 (the reference for "
        f'"in time"): {refs or "n/a"}.\n\n',
        table(header, rows),
        "\n",
    ]
    errs = [(n, r["n"], e) for n in names for r in runs[n].values() for e in r.get("errors", [])]
    if errs:
        md.append("".join(f"- **{n}** ×{k}: {_short(e, 300)}\n" for n, k, e in errs) + "\n")

    def curve(get):
        return {n: [(k, get(runs[n][k], n)) for k in counts if k in runs[n]] for n in names}

    md.append(
        plots.lines(
            "sessions_memory.png",
            [
                ("servers' PSS total", "MiB", curve(metrics[0][1]), True),
                ("PSS per server", "MiB", curve(metrics[1][1]), False),
                ("idle CPU of all servers", "%", curve(metrics[5][1]), False),
            ],
            "concurrent sessions",
        )
        + "\n"
    )
    top = counts[-1] if counts else None
    if top is not None:
        series = {f"{n} ×{top}": _echo(runs[n][top]) for n in names if top in runs[n]}
        md.append(
            plots.cdf(
                "sessions_echo.png", f"keystroke echo with {top} sessions (CDF)", series, "ms"
            )
            + "\n"
        )
    return "".join(md)


def scrollback_section(data: dict) -> str:
    """``bench.e2e.scrollback``: each bulk run for Mosh and pymosh with scrollback off / on."""
    runs = data.get("runs", {})
    names = list(runs)
    base = runs.get("mosh", {})
    header = ["output", "measure"] + names + [f"{n} ÷ mosh" for n in names if n != "mosh"]
    rows = []
    for what in base or next(iter(runs.values()), {}):
        for key, label in (
            ("wall_s", "wall, s"),
            ("server_cpu_s", "server CPU, s"),
            ("client_out_bytes", "bytes written to the terminal"),
            ("history_lines", "history lines received"),
            ("history_after_screen_s", "history complete after the screen, s"),
        ):
            vals = [runs[n].get(what, {}).get(key) for n in names]
            row = [what, label] + ["n/a" if v is None else v for v in vals]
            b = base.get(what, {}).get(key)
            for n, v in zip(names, vals):
                if n != "mosh":
                    ok = isinstance(v, (int, float)) and isinstance(b, (int, float)) and b
                    row.append(f"{v / b:.2f}" if ok and key != "history_lines" else "—")
            rows.append(row)
    size, rounds = data.get("corpus_bytes"), data.get("rounds", 1)
    times = "once" if rounds == 1 else f"{rounds} times (the run of median wall time shown)"
    return (
        f"`python -m bench.e2e.scrollback`: each corpus ({fmt(size)} bytes) `cat` {times} per "
        f"implementation; history counted in the client terminal's scrollback.\n\n"
        + table(header, rows)
        + "\n"
    )


def _echo(run: dict) -> list[float]:
    return [x for e in run.get("echo_ms") or [] for x in e if x is not None]


# --------------------------------------------------------------------------- traces
def trace_section(by_client: dict[str, list]) -> str:
    """Rows (trace, delay, loss); per client p50/p90/within 10 ms; ratio vs mosh."""
    clients = list(by_client)
    base = "mosh" if "mosh" in by_client else clients[0]
    keyed: dict[tuple, dict[str, dict]] = {}
    for c, rows in by_client.items():
        for r in rows or []:
            keyed.setdefault((r.get("trace"), r.get("delay_ms"), r.get("loss_pct")), {})[c] = r
    header = ["trace", "one-way delay ms", "loss %"]
    for c in clients:
        header += [
            f"{c} shown/keys",
            f"{c} p50 ms",
            f"{c} p90 ms",
            f"{c} ≤10 ms %",
            f"{c} mispredicted",
        ]
    header += [f"p90 ratio {c}/{base}" for c in clients if c != base]
    rows = []
    for (trace, delay, loss), per in keyed.items():
        row = [str(trace), delay, loss]
        for c in clients:
            r = per.get(c)
            row += (
                [
                    f"{r.get('shown')}/{r.get('keystrokes')}",
                    r.get("p50_ms"),
                    r.get("p90_ms"),
                    r.get("within_10ms_pct"),
                    r.get("mispredicted_keystrokes"),
                ]
                if r
                else ["n/a"] * 5
            )
        for c in clients:
            if c == base:
                continue
            a, b = (per.get(c) or {}).get("p90_ms"), (per.get(base) or {}).get("p90_ms")
            row.append(
                f"{a / b:.2f}"
                if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b
                else "—"
            )
        rows.append(row)
    return (
        "Stock `mosh-server`, the client named in the column, keystroke traces from "
        "`bench/traces/` replayed over a delaying relay (prediction `adaptive`): time "
        "until each keystroke's effect shows.\n\n" + table(header, rows) + "\n"
    )


# --------------------------------------------------------------------------- main
def render(out: str = OUT, notes: list[str] | None = None) -> str:
    plots = Plots(out)
    md = [
        f"# pymosh benchmark report\n\n_generated {time.strftime('%Y-%m-%d %H:%M:%S')}, "
        f"{os.cpu_count()} CPUs_\n\n"
    ]
    for n in notes or []:
        md.append(f"> {n}\n\n")
    if plots.plt is None:
        md.append(
            f"> plots skipped: matplotlib unavailable ({plots.error}); "
            "`pip install matplotlib` to get them.\n\n"
        )

    def load(name):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    e2e = load("e2e.json")
    many = load("sessions.json")
    single = {
        n: pct(_collect(e)["latency_samples"], 0.5)
        for n, e in ((e2e or {}).get("impls") or {}).items()
    }
    scrollback = load("scrollback.json")
    md.append("## Goals of the open issues\n\n")
    md.append(
        goals.section(
            goals.goals(e2e, many, load("startup.json"), scrollback, single.get("pymosh"))
        )
    )
    md.append("## End to end: pymosh vs Mosh 1.4.0\n\n")
    md.append(e2e_section(e2e, plots) if e2e else "_not run_\n\n")
    md.append("## Many concurrent sessions: pymosh vs Mosh 1.4.0\n\n")
    md.append(
        sessions_section(many, plots, {n: v for n, v in single.items() if v})
        if many
        else "_not run_\n\n"
    )
    md.append("## Bulk output with scrollback on and off\n\n")
    md.append(scrollback_section(scrollback) if scrollback else "_not run_\n\n")
    micro = load("micro.json")
    md.append("## Micro benchmarks: fast path vs twin vs peers\n\n")
    md.append(micro_section(micro, plots) if micro else "_not run_\n\n")
    traces = {}
    for name in sorted(os.listdir(out)):
        if name.startswith("trace_replay_") and name.endswith(".json"):
            traces[name[len("trace_replay_") : -5]] = load(name)
    if traces:
        md.append("## Keystroke trace replay (bench/trace_replay.py)\n\n" + trace_section(traces))
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write("".join(md))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    p.add_argument("--out", default=OUT)
    args = p.parse_args(argv)
    print(render(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
