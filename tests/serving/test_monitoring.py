"""GET /monitoring behind the token, and the monitoring gauges labelled by feature name only."""

from __future__ import annotations

import json

from tests.serving.conftest import TOKEN

REPORT = {
    "as_of": "2026-11-01",
    "model_version": "7",
    "verdict": "watch",
    "verdict_level": 1,
    "reasons": ["1 input feature(s) drifted from training: usage_logins_per_active_user_30d (PSI 6.92)."],
    "drift": [
        {
            "feature": "usage_logins_per_active_user_30d",
            "statistic": "psi",
            "value": 6.92,
            "threshold": 0.25,
            "alarm": True,
        },
        {"feature": "seat_utilization_30d", "statistic": "psi", "value": 0.04, "threshold": 0.25, "alarm": False},
    ],
    "score_drift": {"value": 0.03},
    "estimated": {"open_renewals": 3},
    "realized": {"n": 0},
}


def _gauges() -> dict[tuple, float]:
    import prometheus_client

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in prometheus_client.REGISTRY.collect()
        if metric.name.startswith("renewal_risk_monitor")
        for sample in metric.samples
    }


def test_monitoring_needs_the_token_and_returns_the_last_report(client_with_token, tmp_path, monkeypatch):
    path = tmp_path / "monitor.json"
    monkeypatch.setenv("CHURN_MONITOR_REPORT", str(path))
    assert client_with_token.get("/monitoring").status_code == 401
    good = {"Authorization": f"Bearer {TOKEN}"}
    missing = client_with_token.get("/monitoring", headers=good)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    path.write_text(json.dumps(REPORT))
    answer = client_with_token.get("/monitoring", headers=good)
    assert answer.status_code == 200 and answer.json() == REPORT
    gauges = _gauges()
    assert gauges[("renewal_risk_monitor_verdict_level", ())] == 1
    assert gauges[("renewal_risk_monitor_feature_alarms", ())] == 1
    assert gauges[("renewal_risk_monitor_feature_psi", (("feature", "usage_logins_per_active_user_30d"),))] == 6.92
    labels = {label for (name, labelled) in gauges if name == "renewal_risk_monitor_feature_psi" for label in labelled}
    assert {key for key, _ in labels} == {"feature"}

    path.write_text(json.dumps({**REPORT, "verdict": "retrain", "verdict_level": 2}))  # a new report, same path
    assert client_with_token.get("/monitoring", headers=good).json()["verdict"] == "retrain"
    assert _gauges()[("renewal_risk_monitor_verdict_level", ())] == 2
