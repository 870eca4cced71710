"""`takeoff review ...` against the app: create a queue, add a rule, sample, add, claim, submit, skip; exit codes
0, 1 (nothing left to claim) and 2 (bad input, refused)."""
from __future__ import annotations

import json

import pytest



@pytest.fixture
def run(cli_as):  # type: ignore[no-untyped-def]
    return cli_as("ai_engineer", "eve")


def test_review_commands(run, traffic):  # type: ignore[no-untyped-def]
    r = run("review", "queue", "create", "-u", "support-reply", "--name", "cli", "--score", "helpful:1-5",
            "--label", "made_up", "--rule", "errors", "--rule", "traffic:0.5")
    assert r.exit_code == 0, r.output
    qid = int(r.output.split()[0])
    assert "errors" in run("review", "queue", "show", qid).output
    r = run("review", "rule", "add", qid, "--kind", "fallbacks")
    assert r.exit_code == 0 and "fallbacks" in r.output
    r = run("review", "sample", qid)
    assert r.exit_code == 0 and "added" in r.output
    r = run("review", "add", qid, "--request", "r0", "--request", "zz")
    assert r.exit_code == 0 and "not found: zz" in r.output
    claimed = []
    while True:
        r = run("review", "claim", qid)
        if r.exit_code == 1:
            assert "nothing left" in r.output
            break
        assert r.exit_code == 0, r.output
        item = int(r.output.split()[1].rstrip(":"))
        claimed.append(item)
        if len(claimed) == 1:
            assert run("review", "skip", item).exit_code == 0
        else:
            r = run("review", "submit", item, "--score", "helpful=4", "--label", "made_up")
            assert r.exit_code == 0 and "done" in r.output, r.output
    assert len(claimed) >= 2
    assert json.loads(run("review", "queue", "show", qid).output)["progress"]["skips"] == 1


BAD = [
    ("review", "queue", "create", "-u", "support-reply", "--name", "x", "--score", "helpful"),
    ("review", "queue", "create", "-u", "nowhere", "--name", "x", "--score", "h:5-1"),
    ("review", "queue", "create", "-u", "support-reply", "--name", "x", "--label", "a", "--rule", "errors:lots"),
    ("review", "submit", "999", "--score", "helpful"),
    ("review", "claim", "999"),
]


def test_bad_input_exits_2(run):  # type: ignore[no-untyped-def]
    for args in BAD:
        r = run(*args)
        assert r.exit_code == 2 and r.output.count("error:") == 1, (args, r.output)
