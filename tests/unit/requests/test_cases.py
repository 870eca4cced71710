"""How a captured request becomes an eval case: input and reference output from the stored content (pure)."""
from __future__ import annotations

from takeoff.requests.cases import case_input, case_output


def test_structured_single_and_several_messages():
    assert case_input({"input": [{"role": "user", "content": '{"amount": 9, "vendor_known": false}'}]}) == {
        "amount": 9, "vendor_known": False}
    assert case_input({"system": "be brief", "input": [{"role": "user", "content": "refund to [email] please"}]}) == \
        "refund to [email] please"  # markers kept, the system prompt left out
    several = {"input": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yes?"},
                         {"role": "user", "content": "{not json"}]}
    assert case_input(several) == {"messages": several["input"]}


def test_nothing_to_take():
    assert case_input({}) is None and case_input({"input": [{"role": "user", "content": "  "}]}) is None
    assert case_input({"input": "not a list"}) is None
    assert case_input({"input": [{"role": "user", "content": "[1, 2]"}]}) == "[1, 2]"  # only objects are structured
    assert case_input({"input": [{"role": "user", "content": "{}"}]}) == "{}"


def test_output_reference():
    assert case_output({"output": [{"role": "assistant", "content": "anomaly"}]}) == "anomaly"
    assert case_output({"output": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}) == "a\nb"
    assert case_output({"output": [{"role": "assistant", "content": '{"label": "ok"}'}]}) == {"label": "ok"}
    assert case_output({"input": [{"role": "user", "content": "x"}]}) is None
