"""The last monitoring report (``churn monitor --out``), served as JSON on ``GET /monitoring`` and as gauges.

The service reads the report file; it never runs the monitor (that needs the raw tables,
which the service never touches). The file is read again when it changes (a new inode or
modification time), so a nightly ``churn monitor`` is picked up without a restart. Gauges:
the verdict level (0 ok, 1 watch, 2 retrain), the number of alarmed features, the score PSI,
and each model input's PSI labelled by its feature name only: a fixed, bounded label set per
model, never an account or a value.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import settings

log = logging.getLogger("renewal_risk")
REPORT_ENV = settings.variable("monitor_report")
DEFAULT_REPORT = str(settings.Settings.model_fields["monitor_report"].default)
_gauges: dict | None = None


def _metrics() -> dict:
    """The gauges, created once per process through BentoML (which sets up Prometheus' multiprocess mode)."""
    global _gauges
    if _gauges is None:
        from bentoml.metrics import Gauge

        mode = {"multiprocess_mode": "mostrecent"}  # every worker reads the same file: the latest value wins
        _gauges = {
            "verdict": Gauge(
                "renewal_risk_monitor_verdict_level", "Monitoring verdict: 0 ok, 1 watch, 2 retrain", **mode
            ),
            "alarms": Gauge("renewal_risk_monitor_feature_alarms", "Input features in alarm", **mode),
            "score": Gauge("renewal_risk_monitor_score_psi", "PSI of the churn-risk distribution", **mode),
            "psi": Gauge("renewal_risk_monitor_feature_psi", "PSI of an input feature", ["feature"], **mode),
        }
    return _gauges


class MonitorReport:
    """The report file at ``path``: parsed when it changes, exported to the gauges each time it is read anew."""

    def __init__(self, path: Path | str | None = None):
        self.fixed = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._report: dict | None = None

    @property
    def path(self) -> Path:
        """``path`` when given, else $CHURN_MONITOR_REPORT read now (it can be pointed elsewhere), else the default."""
        return self.fixed or settings.current().monitor_report

    def current(self) -> dict | None:
        """The report as it is on disk now (None when there is none, or it is not a monitoring report)."""
        try:
            stat = self.path.stat()
        except OSError:
            return None
        signature = (str(self.path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if signature != self._signature:
                self._report = self._read()
                self._signature = signature
                if self._report is not None:
                    export(self._report)
            return self._report

    def _read(self) -> dict | None:
        try:
            report = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.warning("monitoring report %s unreadable: %s", self.path, type(error).__name__)
            return None
        if not isinstance(report, dict) or not {"verdict", "drift"} <= set(report):
            log.warning("monitoring report %s is not a `churn monitor` report", self.path)
            return None
        return report


def export(report: dict) -> None:
    """Set the gauges from a report."""
    gauges = _metrics()
    gauges["verdict"].set(int(report.get("verdict_level", ("ok", "watch", "retrain").index(report["verdict"]))))
    gauges["alarms"].set(sum(bool(d.get("alarm")) for d in report["drift"]))
    gauges["score"].set(float((report.get("score_drift") or {}).get("value") or 0.0))
    for record in report["drift"]:
        if record.get("value") is not None:
            gauges["psi"].labels(feature=str(record["feature"])).set(float(record["value"]))
