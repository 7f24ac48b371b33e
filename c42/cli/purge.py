"""`c42 purge [--dry-run] [--json]`: delete credentials that ended more than
`C42_PURGE_RETENTION_DAYS` ago and audit records older than `C42_AUDIT_RETENTION_DAYS` (0: kept
forever) and print the counts per kind (SPEC §7, §8, c42.ops.purge)."""

from __future__ import annotations

import argparse

from c42.cli.output import CommandError, Subcommands, add_json, emit
from c42.db import Database
from c42.ops import purge
from c42.settings import get_settings


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser(
        "purge",
        help="delete expired and revoked credentials and old audit records past their "
        "retention periods",
    )
    p.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    add_json(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    db = Database(settings.database_url)
    try:
        report = purge.purge(
            db,
            settings.purge_retention_days,
            audit_retention_days=settings.audit_retention_days,
            dry_run=args.dry_run,
        )
    except purge.PurgeRunning:
        raise CommandError("another purge is running on this database; try again later") from None
    finally:
        db.dispose()
    ended_before = report.ended_before.isoformat(timespec="seconds") + "Z"
    audit_before = report.audit_before
    data = {
        "dry_run": report.dry_run,
        "retention_days": settings.purge_retention_days,
        "ended_before": ended_before,
        "audit_retention_days": settings.audit_retention_days,
        "audit_before": audit_before.isoformat(timespec="seconds") + "Z" if audit_before else None,
        "counts": report.counts,
        "total": report.total,
    }
    verb = "would delete" if report.dry_run else "deleted"
    lines = [f"{verb} (ended before {ended_before}):"]
    width = max(len(kind) for kind in report.counts)
    lines += [f"  {kind:<{width}}  {count}" for kind, count in report.counts.items()]
    lines.append(f"  {'total':<{width}}  {report.total}")
    emit(data, args.json, "\n".join(lines))
    return 0
