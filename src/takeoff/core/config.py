"""Configuration from the environment (TAKEOFF_*), the one place settings are read."""
from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server settings; every field maps to a TAKEOFF_<NAME> environment variable."""

    model_config = SettingsConfigDict(env_prefix="TAKEOFF_", extra="ignore")

    data_dir: Path = Field(default=Path(".takeoff"), description="Folder for the SQLite file and the secret key.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir.")
    secret_key: str | None = Field(default=None, description="Signs sessions, derives encryption keys.")
    admin_password: str | None = Field(default=None, description="Password of the admin created at first start.")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, description="Request bodies over this get 413.")
    session_hours: int = Field(default=12, description="Lifetime of a browser login session.")
    cookie_secure: bool = Field(default=False, description="Mark cookies Secure (set when served over HTTPS).")
    embedded_worker: bool = Field(default=True, description="Run a job worker inside `takeoff serve`.")
    rollup_compaction: bool = Field(default=True, description="Merge telemetry rollup deltas in every `serve` "
                                                              "process (and `worker`); off only for tests.")
    job_lease_seconds: int = Field(default=60, ge=2, le=86400, description="How long a claimed job stays leased "
                                   "without heartbeat (a dead worker's jobs are taken over after it).")
    shutdown_grace_seconds: int = Field(default=25, ge=0, le=3600, description="On SIGTERM, how long running jobs "
                                        "and in-flight requests get to finish; then job leases are released for "
                                        "another worker and open connections are closed.")
    shutdown_drain_seconds: float = Field(default=0, ge=0, le=300, description="On SIGTERM, how long `serve` keeps "
                                          "answering (with /readyz at 503) before it stops accepting connections, "
                                          "so a load balancer routes elsewhere first.")
    raw_event_retention_days: int = Field(default=30, description="Raw telemetry kept this long; rollups stay.")
    late_event_seconds: int = Field(default=24 * 3600, description="Events later than this are refused.")
    otlp_grpc_port: int = Field(default=0, ge=0, le=65535, description="Serve OTLP over gRPC (TraceService) on this "
                                "port too (`serve --otlp-grpc-port`, 4317 is the standard); 0: off.")
    otlp_grpc_host: str = Field(default="127.0.0.1", description="Interface the OTLP/gRPC port binds "
                                "(`serve` sets it to its --host).")
    eval_python_modules: str = Field(default="", description="Comma-separated allow-list of the code python eval "
                                     "targets and custom scorers may name: modules ('myco.evals'), prefixes "
                                     "('myco.evals.'), callables ('myco.targets:answer'); empty: none.")
    outbound_allow_hosts: str = Field(default="", description="Comma-separated host names ('*.corp.example' too) "
                                      "and IP networks that webhooks, eval targets and data sources may reach "
                                      "although internal (loopback, private, link-local...); empty: public only.")
    data_file_roots: str = Field(default="", description="Comma-separated folders that file, SQLite and DuckDB data "
                                 "sources may read (never the data folder or the database); empty: none.")

    @field_validator("eval_python_modules")
    @classmethod
    def _valid_code_allow_list(cls, value: str) -> str:
        from takeoff.core.codeallow import parse_allow

        parse_allow(value)  # a bad entry is a startup error naming it
        return value

    @field_validator("outbound_allow_hosts")
    @classmethod
    def _valid_outbound_allow_list(cls, value: str) -> str:
        from takeoff.core.netguard import parse_allow

        parse_allow(value)
        return value

    # Sign-in throttling and rate limits (docs/security.md); every count 0 turns its limit off.
    login_max_failures: int = Field(default=5, ge=0, description="Failed sign-ins per account before a lockout.")
    login_address_max_failures: int = Field(default=20, ge=0, description="Failed sign-ins per client address "
                                                                           "(any usernames) before a lockout.")
    login_lockout_s: int = Field(default=900, ge=1, description="Seconds a lockout lasts; failures older than this "
                                                                "are forgotten.")
    login_delay_s: float = Field(default=1.0, ge=0, description="First delay after the free half of the allowance; "
                                                                "doubles per failure.")
    login_max_delay_s: float = Field(default=60.0, ge=0, description="Cap of the doubling delay.")
    token_max_failures: int = Field(default=20, ge=0, description="Bad bearer tokens per client address before a "
                                                                  "lockout (same delays and lockout as sign-in).")
    trusted_proxies: str = Field(default="", description="Comma-separated proxy addresses or networks whose "
                                                         "X-Forwarded-For names the client (empty: none).")
    api_rate_limit_per_minute: int = Field(default=3000, ge=0, description="API requests per token per minute, "
                                                                           "per server process.")
    ingest_rate_limit_per_second: int = Field(default=200, ge=0, description="Ingestion requests (events, feedback, "
                                                                             "OTLP) per token per second, per process.")
    ingest_events_per_second: int = Field(default=100_000, ge=0, description="Ingested events per token per second, "
                                                                             "per process.")
    # Logs (docs/operations.md): JSON lines unless a terminal reads them ("auto"), every line with its request id.
    log_format: Literal["auto", "json", "text"] = Field(default="auto", description="auto (text on a terminal, JSON "
                                                        "otherwise), json or text.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Lowest level logged.")

    # Single sign-on (OpenID Connect, docs/sso.md): on when oidc_issuer is set.
    public_url: str | None = Field(default=None, description="The URL users open takeoff at (https://takeoff.corp."
                                   "example); the OIDC redirect URL is <public_url>/auth/oidc/callback.")
    oidc_issuer: str | None = Field(default=None, description="The OpenID provider's issuer URL (its discovery "
                                    "document is <issuer>/.well-known/openid-configuration); empty: no SSO.")
    oidc_client_id: str | None = Field(default=None, description="The client id registered at the provider.")
    oidc_client_secret: SecretStr | None = Field(default=None, description="The client secret (confidential "
                                                 "client); empty: a public client (PKCE only).")
    oidc_scopes: str = Field(default="openid profile email", description="Scopes asked for; must include openid.")
    oidc_groups_claim: str = Field(default="groups", description="The ID token claim listing the user's groups.")
    oidc_username_claim: str = Field(default="preferred_username", description="The claim that names the user.")
    oidc_provider_name: str = Field(default="single sign-on", description="Shown on the button: 'Sign in with …'.")
    oidc_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Timeout of each request to the provider.")
    local_login: str = Field(default="all", description="'all': every user may sign in with a password; "
                             "'break_glass': only the users in TAKEOFF_BREAK_GLASS_USERS (needs SSO on).")
    break_glass_users: str = Field(default="", description="Comma-separated users who keep password sign-in "
                                   "when TAKEOFF_LOCAL_LOGIN=break_glass.")

    @field_validator("public_url", "oidc_issuer")
    @classmethod
    def _valid_http_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value in (None, ""):
            return None
        try:
            parts = urlsplit(value)
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            raise ValueError("must be an http(s) URL, got a value that does not parse as one") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
                or parts.username is not None or parts.password is not None:
            shown = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"  # never the credentials or query
            raise ValueError(f"must be an http(s) URL without credentials, query or fragment, got {shown!r}")
        return value.rstrip("/")

    @field_validator("oidc_scopes")
    @classmethod
    def _valid_scopes(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("must include the 'openid' scope")
        return " ".join(value.split())

    @field_validator("oidc_groups_claim", "oidc_username_claim")
    @classmethod
    def _valid_claim(cls, value: str) -> str:
        if not value.strip() or len(value) > 200:
            raise ValueError("must name a claim (1-200 characters)")
        return value.strip()

    @field_validator("local_login")
    @classmethod
    def _valid_local_login(cls, value: str) -> str:
        if value not in ("all", "break_glass"):
            raise ValueError("must be 'all' or 'break_glass'")
        return value

    @model_validator(mode="after")
    def _sso_complete(self) -> Settings:
        # Raised as ValueError with the variable named first: the CLI prints it as one line and exits 2.
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("TAKEOFF_OIDC_CLIENT_ID: required when TAKEOFF_OIDC_ISSUER is set")
        if self.oidc_client_id and not self.oidc_issuer:
            raise ValueError("TAKEOFF_OIDC_ISSUER: required when TAKEOFF_OIDC_CLIENT_ID is set")
        if self.local_login == "break_glass":
            if not self.oidc_issuer:
                raise ValueError("TAKEOFF_LOCAL_LOGIN: 'break_glass' needs single sign-on (TAKEOFF_OIDC_ISSUER)")
            if not self.break_glass_names:
                raise ValueError("TAKEOFF_BREAK_GLASS_USERS: name at least one user when TAKEOFF_LOCAL_LOGIN="
                                 "break_glass")
        return self

    @property
    def break_glass_names(self) -> frozenset[str]:
        """The users who keep password sign-in when local login is switched off."""
        return frozenset(n.strip() for n in self.break_glass_users.split(",") if n.strip())

    @property
    def sso_enabled(self) -> bool:
        """Whether single sign-on is configured."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'takeoff.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The secret key; generated once into the data folder when not given."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def get_settings() -> Settings:
    """Settings read from the current environment."""
    return Settings()
