"""`takeoff evaluator ...` against the app: create (judge options or a spec file), list, show, set, pause, resume,
run, delete; exit codes 0, 1 (a stopped evaluator with --fail-if-stopped) and 2 (bad input, refused)."""
from __future__ import annotations

import json

import pytest

from takeoff.quality import runner
from tests.quality.conftest import PRICES, reply


@pytest.fixture
def run(cli_as):  # type: ignore[no-untyped-def]
    return cli_as("ai_engineer", "erin")


BAD = [
    (("evaluator", "create", "support-reply", "j", "--judge-url", "http://169.254.169.254/v1", "--judge-model", "m",
      "--rubric", "r"), "scorer.base_url"),
    (("evaluator", "create", "support-reply", "j", "--judge-url", "http://x.example/v1"), "--judge-url"),
    (("evaluator", "create", "support-reply", "j", "--spec", "/nonexistent.json"), "cannot read"),
    (("evaluator", "create", "support-reply", "j", "--kind", "weird", "--spec", "x"), "--kind"),
    (("evaluator", "create", "support-reply", "j", "--judge-url", "http://x.example/v1", "--judge-model", "m",
      "--rubric", "r", "--sample-rate", "0"), "sample_rate"),
    (("evaluator", "set", "1"), "nothing to change"),
]


def test_evaluator_commands(run, judge, support, send_content, factory, tmp_path):
    send_content(support, [("c1", reply("refund issued")), ("c2", reply("refund soon")), ("c3", reply("refund"))])
    r = run("evaluator", "create", support, "judge", "--judge-url", judge.url, "--judge-model", "judge-ok",
            "--rubric", "Resolves the ticket?", "--budget", "0.015", "--price-in", str(PRICES["input"]),
            "--price-out", str(PRICES["output"]), "--since", "2020-01-01T00:00:00Z")
    assert r.exit_code == 0, r.output
    assert "writes score online_judge (metric quality_online_judge)" in r.output
    eid = int(r.output.split("#")[1].split()[0])
    spec = tmp_path / "safety.json"
    spec.write_text(json.dumps({"output": [{"detector": "pii"}]}))
    assert run("evaluator", "create", support, "safety", "--kind", "detectors", "--spec", str(spec)).exit_code == 0
    r = run("evaluator", "list", "--use-case", support)
    assert r.exit_code == 0 and "2 evaluator(s)" in r.output and "running" in r.output
    assert run("evaluator", "show", str(eid), "--fail-if-stopped").exit_code == 0
    runner.run_one(factory, eid)
    r = run("evaluator", "show", str(eid), "--fail-if-stopped")
    assert r.exit_code == 1 and "budget spent" in r.output
    assert json.loads(r.stdout)["state"] == "budget_spent"
    r = run("evaluator", "set", str(eid), "--budget", "5")
    assert r.exit_code == 0 and "running" in r.output
    assert "disabled" in run("evaluator", "pause", str(eid)).output
    assert "running" in run("evaluator", "resume", str(eid)).output
    r = run("evaluator", "run", str(eid))
    assert r.exit_code == 0 and "queued job" in r.output
    assert run("evaluator", "delete", str(eid)).exit_code == 0
    assert run("evaluator", "show", str(eid)).exit_code == 2
    for args, message in BAD:  # bad input: exit 2 with one line
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output and "Traceback" not in r.output
