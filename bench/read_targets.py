"""The read targets of issue 12 (SPEC §6: the targets hold on both databases), checked on one
run's figures and printed by `make bench` as met or NOT MET for each database:

- the events list (User Token) at >= 0.15 of the same server's /health;
- PostgreSQL's list at >= 0.5 of SQLite's list measured in the same run (same scale);
- the list's p99 <= 50 ms;
- the Bearer and Action Token lists within 10% of the User Token list (req/s);
- p99 at 10x users within 1.5x of p99 at 1x (`--compare-scale 10`);
- every worker's peak memory <= 150 MB;
- (issue 16) the DPoP list within 25% of the Bearer list (req/s, bench/dpop.py).

A target whose scenarios did not run is left out (say `--scenario` to run only some).
"""

from __future__ import annotations

from bench import dpop as bench_dpop
from bench.report import MEMORY_LIMIT_MB, SCALE_P99_TARGET, TargetRun, scale_comparison

LIST = "events_list_token"
OTHER_CREDENTIALS = ("events_list_bearer", "events_list_action_token")
HEALTH_RATIO = 0.15
POSTGRESQL_OVER_SQLITE = 0.5
P99_MS = 50.0
CREDENTIAL_SPREAD = 0.10


def verdicts(runs: list[TargetRun]) -> list[str]:
    """One line per target and database: the figure, the target, met or NOT MET."""
    lines: list[str] = []
    for run in runs:
        label = f"{run.database} x{run.scale}"
        if LIST in run.rounds:
            ratio = run.ratio(LIST) or 0.0
            lines.append(
                _line(
                    label,
                    "list / health",
                    f"{ratio:.3f}",
                    f">= {HEALTH_RATIO}",
                    ratio >= HEALTH_RATIO,
                )
            )
            p99 = run.median(LIST, "p99")
            lines.append(
                _line(label, "list p99", f"{p99:.1f} ms", f"<= {P99_MS:.0f} ms", p99 <= P99_MS)
            )
            base = run.median(LIST, "rps")
            for name in OTHER_CREDENTIALS:
                if name in run.rounds and base:
                    share = run.median(name, "rps") / base
                    lines.append(
                        _line(
                            label,
                            f"{name} / list",
                            f"{share:.3f}",
                            f">= {1 - CREDENTIAL_SPREAD:.2f}",
                            share >= 1 - CREDENTIAL_SPREAD,
                        )
                    )
        dpop = bench_dpop.verdict(run)  # issue 16: DPoP list within 25% of the Bearer list
        if dpop is not None:
            lines.append(_line(label, f"{bench_dpop.NAME} / {bench_dpop.BEARER}", *dpop))
        if run.workers:
            peak = max(w.hwm_mb for w in run.workers)
            lines.append(
                _line(
                    label,
                    "worker peak memory",
                    f"{peak:.1f} MB",
                    f"<= {MEMORY_LIMIT_MB:.0f} MB",
                    peak <= MEMORY_LIMIT_MB,
                )
            )
    for pg in (r for r in runs if r.database == "postgresql" and LIST in r.rounds):
        sqlite = next(
            (
                r
                for r in runs
                if r.database == "sqlite" and r.scale == pg.scale and LIST in r.rounds
            ),
            None,
        )
        if sqlite is not None and sqlite.median(LIST, "rps"):
            share = pg.median(LIST, "rps") / sqlite.median(LIST, "rps")
            lines.append(
                _line(
                    f"postgresql x{pg.scale}",
                    "list / SQLite list (same run)",
                    f"{share:.3f}",
                    f">= {POSTGRESQL_OVER_SQLITE}",
                    share >= POSTGRESQL_OVER_SQLITE,
                )
            )
    for row in scale_comparison(runs):
        lines.append(
            _line(
                f"{row['database']} x{row['scale']}",
                f"{row['scenario']} p99 / x1",
                f"{row['factor']:.2f}x",
                f"<= {SCALE_P99_TARGET}x",
                row["met"],
            )
        )
    return lines


def _line(label: str, what: str, figure: str, target: str, met: bool) -> str:
    return f"{label:<15} {what:<38} {figure:>10}  {target:<10} {'met' if met else 'NOT MET'}"
