"""The per-process policy holder shared by the outbound-address policy, the eval-code allow-list and the data-file
policy: the app's configured policy wins; without one, the environment's settings decide, read at call time."""
from __future__ import annotations

import pytest

from takeoff.core import config, netguard
from takeoff.core.config import Settings
from takeoff.core.policy import ProcessPolicy
from takeoff.data import connect
from takeoff.evals import sandbox


def test_configured_policy_wins_and_none_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = Settings(outbound_allow_hosts="env.example")
    monkeypatch.setattr(config, "get_settings", lambda: env)
    holder = ProcessPolicy("hosts", lambda s: s.outbound_allow_hosts)
    assert holder.active() == "env.example"
    holder.configure("app.example")
    assert holder.active() == "app.example"
    holder.configure_from(Settings(outbound_allow_hosts="other.example"))
    assert holder.active() == "other.example"
    holder.configure(None)
    env2 = Settings(outbound_allow_hosts="changed.example")  # read at call time, not cached by the holder
    monkeypatch.setattr(config, "get_settings", lambda: env2)
    assert holder.active() == "changed.example"


def test_the_three_process_policies_share_the_holder() -> None:
    for holder in (netguard.POLICY, sandbox.POLICY, connect.FILES):
        assert isinstance(holder, ProcessPolicy)
    assert netguard.active() == netguard.POLICY.active()
    strict = netguard.parse_allow("")
    netguard.configure(strict)
    assert netguard.POLICY.active() is strict
