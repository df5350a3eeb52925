"""What wgbot counts for Prometheus (`/metrics`, see bot/http.py).

One registry for the process, filled where things happen: the router counts commands and times
them, the transports say whether they are connected and count their sync or poll errors, and
the scheduler says how late its last job fired. The outbox is counted from the database when
scraped, so every process shows the same backlog.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

COMMANDS = Counter(
    "wgbot_commands", "Commands handled, by command and outcome.", ["command", "outcome"], registry=REGISTRY
)
COMMAND_SECONDS = Histogram(
    "wgbot_command_seconds",
    "Time from a command's arrival to its answer (database work included, the send not).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
CONNECTED = Gauge("wgbot_platform_connected", "1 while the platform is connected.", ["platform"], registry=REGISTRY)
SYNC_ERRORS = Counter(
    "wgbot_platform_errors", "Failed syncs (Matrix) and polls (Telegram).", ["platform"], registry=REGISTRY
)
OUTBOX = Gauge(
    "wgbot_outbox_notices",
    "Notices not delivered yet, by platform and status.",
    ["platform", "status"],
    registry=REGISTRY,
)
SCHEDULER_LAG = Gauge(
    "wgbot_scheduler_lag_seconds", "How late the last scheduled job ran after its time.", registry=REGISTRY
)


def outcome_kind(outcome: str) -> str:
    """A bounded label: "failed (ref 1a2b)" counts as failed."""
    return outcome.split(" ", 1)[0]
