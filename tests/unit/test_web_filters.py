"""The pages' numbers and words: money, durations, payback, tokens, rules as sentences, plain form messages."""
from __future__ import annotations

from takeoff.web import filters, forms, home
from takeoff.core.errors import Invalid


def test_money_has_a_currency_and_never_scientific_notation():
    assert filters.money(8.1e-05) == "$0.000081"
    assert filters.money(0.0042) == "$0.0042"
    assert filters.money(12.3) == "$12.30"
    assert filters.money(1234.5) == "$1,234"
    assert filters.money(-3) == "-$3.00"
    assert filters.money(None) == "—" and filters.money(float("nan")) == "—"
    assert filters.money(5, "CHF") == "5.00 CHF"
    assert "e-" not in filters.number(8.1e-05) and filters.number(1e6) == "1,000,000"


def test_durations_and_payback_in_human_units():
    assert [filters.duration(s) for s in (0.3, 5, 75, 3700, 200000)] == ["300 ms", "5 s", "1 min 15 s", "1 h 1 min",
                                                                         "2 d 7 h"]
    assert filters.duration_ms(1500) == "1.5 s"
    assert filters.payback("never") == "never"
    assert filters.payback(14469.5, 24) == "not within 2 years"
    assert filters.payback(7.3, 24) == "7.3 months"
    assert filters.payback(30, 60) == "2 years 6 months"


def test_tokens_by_kind_as_a_table_with_a_total():
    html = str(filters.tokens_table({"input": 500, "output": 80}))
    assert "<table" in html and ">input<" in html and "<strong>580</strong>" in html
    assert "{" not in html


def test_rules_and_slas_read_as_sentences():
    assert filters.rule_sentence("error_rate", ">", 0.05, 300, 2) == \
        "Alert (severity 2) when the error rate is above 5 % over 5 min"
    assert filters.rule_sentence("latency_p95", ">", 1500, 600) == "Alert when the p95 latency is above 1.5 s over 10 min"
    assert filters.sla_sentence({"kind": "freshness", "column": "created_at", "max_age_s": 86400}) == \
        "The newest row by created_at is at most 1 d old"
    assert filters.sla_sentence({"kind": "completeness", "fields": {"iban": 0.95}}) == \
        "Filled in: iban in at least 95 % of rows"
    assert filters.sla_sentence({"kind": "rule", "name": "named", "expression": "length(name) > 0"}) == \
        "Rule “named”: every row satisfies length(name) > 0"


def test_sparkline_is_an_accessible_inline_svg():
    svg = str(filters.sparkline([1, 2, 3, 2], "requests per week"))
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-label="requests per week"' in svg
    assert "polyline" in svg and str(filters.sparkline([1])) .startswith("<span")
    assert filters.trend([10, 10, 20]) == "up" and filters.trend([10, 10, 5]) == "down"


def test_form_errors_in_plain_words_by_field():
    exc = Invalid("bad", details=[{"field": "key", "message": "String should match pattern '^[a-z]$'"},
                                  {"field": "name", "message": "String should have at least 1 character"},
                                  {"field": "risk_tier", "message": "Input should be 'low', 'medium' or 'high'"},
                                  {"field": "targets.x", "message": "Field required"}])
    out = forms.field_errors(exc, {"key": "use lowercase letters"}, ("key", "name", "risk_tier"))
    assert out == {"key": "use lowercase letters", "name": "is required",
                   "risk_tier": "choose one of low, medium or high", "_form": "targets: is required"}
    assert forms.field_errors(Invalid("plain message")) == {"_form": "plain message"}


def test_next_action_names_the_most_urgent_thing():
    r = home.Row("a", "A", "production", "high", serving="a:1", canary="a:2")
    assert home.next_action(r) == ("Decide on canary a:2: promote or roll back", "/releases/a:2")
    r.incidents = [(7, 1, "down")]
    assert home.next_action(r) == ("Resolve severity 1 incident #7", "/incidents/7")
    quiet = home.Row("b", "B", "production", "low", serving="b:1")
    assert home.next_action(quiet)[0].startswith("Keep watching")
    assert home.next_action(home.Row("c", "C", "pilot", None))[1] == "/releases?use_case=c"
    assert home.Row("d", "D", "pilot", None, data_sources=[("s", "pass"), ("t", "breach")]).data_status == "breach"


def test_json_text_reads_as_written_and_stays_escaped_on_the_page():
    from jinja2 import Environment

    from takeoff.web.filters import install, json_text

    assert json_text("override_rate = 0.5 > 0.3") == '"override_rate = 0.5 > 0.3"'  # not \u003e
    assert json_text({"café": None}) == '{"café": null}'
    assert json_text({"a": 1}, 2) == '{\n  "a": 1\n}'
    env = Environment(autoescape=True)
    install(env)
    assert env.from_string("{{ v|json_text }}").render(v="<b>") == "&#34;&lt;b&gt;&#34;"


def test_p_values_never_in_scientific_notation():
    assert [filters.p_value(p) for p in (5.9e-57, 0.00012, 0.0432, 0.5, None)] == [
        "< 0.0001", "0.00012", "0.043", "0.5", "—"]
