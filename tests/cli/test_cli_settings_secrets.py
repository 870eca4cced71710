"""Settings are checked at start: a bad value stops `migrate`/`serve`/`worker` with exit 2 and one line naming the
variable, and that line never carries a secret (a database password, an SSO client secret, credentials in a URL)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from takeoff.cli import app

SECRET = "hunter2-never-shown"


@pytest.mark.parametrize(("env", "var"), [
    ({"TAKEOFF_DATABASE_URL": f"postgresql+psycopg://takeoff:{SECRET}@127.0.0.1:1/takeoff"}, "TAKEOFF_DATABASE_URL"),
    ({"TAKEOFF_DATABASE_URL": f"postgres ql://takeoff:{SECRET}@db/takeoff"}, "TAKEOFF_DATABASE_URL"),
    ({"TAKEOFF_DATABASE_URL": f"not a url {SECRET}"}, "TAKEOFF_DATABASE_URL"),
    ({"TAKEOFF_OIDC_ISSUER": f"https://admin:{SECRET}@idp.example/realms/corp", "TAKEOFF_OIDC_CLIENT_ID": "takeoff"},
     "TAKEOFF_OIDC_ISSUER"),
    ({"TAKEOFF_OIDC_ISSUER": f"https://idp.example/realms/corp?key={SECRET}", "TAKEOFF_OIDC_CLIENT_ID": "takeoff"},
     "TAKEOFF_OIDC_ISSUER"),
    ({"TAKEOFF_PUBLIC_URL": f"ftp://u:{SECRET}@takeoff.example"}, "TAKEOFF_PUBLIC_URL"),
    ({"TAKEOFF_OIDC_ISSUER": "https://idp.example", "TAKEOFF_OIDC_CLIENT_SECRET": SECRET}, "TAKEOFF_OIDC_CLIENT_ID"),
    ({"TAKEOFF_OIDC_CLIENT_ID": "takeoff", "TAKEOFF_OIDC_CLIENT_SECRET": SECRET}, "TAKEOFF_OIDC_ISSUER"),
    ({"TAKEOFF_OIDC_SCOPES": "profile email", "TAKEOFF_OIDC_CLIENT_SECRET": SECRET}, "TAKEOFF_OIDC_SCOPES"),
])
def test_a_bad_setting_exits_2_naming_the_variable_and_never_its_secret(tmp_path, monkeypatch, env, var) -> None:
    # `migrate`: serve and worker read settings and open the database the same way (cli._settings, cli._open_db)
    # but also point the logs at the runner's stream, which later tests would then write to once it is closed
    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["migrate"], env=env)
    assert result.exit_code == 2, result.output
    assert var in result.output and "Traceback" not in result.output, result.output
    assert SECRET not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
