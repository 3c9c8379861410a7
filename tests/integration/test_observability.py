"""The alert rules and the Grafana dashboard in deploy/ (issue 17 item 6): they parse, promtool
accepts the rules and their unit tests (Debian 12's prometheus package; skipped without it), and
every metric they name is one the programs export (found in the C sources)."""
import json
import re
import shutil

import pytest
import yaml

from conftest import REPO, run

RULES = REPO / "deploy/prometheus/aimem-rules.yml"
RULE_TESTS = REPO / "deploy/prometheus/aimem-rules.test.yml"
DASHBOARD = REPO / "deploy/grafana/aimem-dashboard.json"
METRIC = re.compile(r"\b((?:aimem|process)_[a-z_]+)")


def exported():
    names = set()
    for folder in ("lib", "ingest", "query-api", "workers", "calls"):
        for path in (REPO / folder).rglob("*.c"):
            names.update(METRIC.findall(path.read_text(errors="replace")))
    return names


def referenced(exprs):
    out = set()
    for e in exprs:
        for name in METRIC.findall(e):
            out.add(re.sub(r"_(bucket|sum|count)$", "", name))
    return out


def rule_exprs():
    doc = yaml.safe_load(RULES.read_text())
    return [r["expr"] for g in doc["groups"] for r in g["rules"]], doc


def test_rules_have_the_fields_an_operator_needs():
    exprs, doc = rule_exprs()
    names = [r["alert"] for g in doc["groups"] for r in g["rules"]]
    assert len(names) == len(set(names)) >= 10
    for g in doc["groups"]:
        for r in g["rules"]:
            assert r["labels"]["severity"] in ("warning", "critical"), r["alert"]
            assert r["annotations"]["summary"], r["alert"]


def test_rules_and_dashboard_name_only_exported_metrics():
    have = exported()
    assert {"aimem_worker_lag_messages", "aimem_worker_dead_lettered_total",
            "aimem_http_request_duration_seconds", "process_start_time_seconds"} <= have
    exprs, _ = rule_exprs()
    dash = json.loads(DASHBOARD.read_text())
    targets = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    missing = (referenced(exprs) | referenced(targets)) - have
    assert not missing, f"not exported by any program: {sorted(missing)}"
    # the dashboard covers lag, freshness, dead letters, error rates and latency
    shown = referenced(targets)
    assert {"aimem_worker_lag_messages", "aimem_worker_freshness_seconds",
            "aimem_worker_dead_lettered_total", "aimem_http_requests_total",
            "aimem_http_request_duration_seconds", "aimem_llm_requests_total",
            "aimem_worker_partitions_stopped"} <= shown


def test_dashboard_is_grafana_json():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        if p["type"] != "row":
            assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"])
            assert p["datasource"]["uid"] == "${datasource}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt install prometheus)")
def test_promtool_checks_and_tests_the_rules():
    out = run(["promtool", "check", "rules", str(RULES)]).stdout
    assert "SUCCESS" in out
    out = run(["promtool", "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent).stdout
    assert "SUCCESS" in out
