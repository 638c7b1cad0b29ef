"""Settings: read once, from an optional TOML file and `CERCLE_*` environment variables.

Environment variables win over the file. Nested values use a double underscore
(`CERCLE_SMTP__HOST`). A wrong or missing setting becomes one `SettingsError` line that
names the setting, so `cercle` can stop with a message an operator can act on.
"""

from __future__ import annotations

import ipaddress
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/cercle.db"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line naming it."""


class Peer(BaseModel):
    model_config = {"extra": "forbid"}

    domain: str
    jurisdiction: str
    signature: Literal["auto", "rfc9421", "cavage"] = "auto"

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower()
        if not value or "/" in value or " " in value:
            raise ValueError("must be a host name with an optional port, like 'munich.example.com'")
        return value

    @field_validator("jurisdiction")
    @classmethod
    def _jurisdiction(cls, value: str) -> str:
        return value.strip().upper()


class Smtp(BaseModel):
    model_config = {"extra": "forbid"}

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    from_address: str = "cercle@localhost"
    timeout_seconds: float = 10.0
    inbound_domain: str | None = None
    inbound_max_bytes: int = Field(default=26_214_400, ge=65_536)
    reply_token_days: int = Field(default=30, ge=1, le=365)
    default_mode: Literal["each", "daily", "weekly", "none"] = "daily"
    max_attempts: int = Field(default=8, ge=1, le=50)
    retry_base_seconds: float = Field(default=60.0, gt=0)
    require_authentication_results: str | None = None
    send: bool = True  # false: mail is queued but not sent (a local trial without a mail server)


def host_of(domain: str) -> str:
    """The host part of `domain` (which may carry a port, or be a bracketed IPv6 address)."""
    if domain.startswith("["):
        return domain[1 : domain.index("]")]
    return domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain


@lru_cache(maxsize=1024)
def is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CERCLE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    domain: str = "localhost:8000"
    scheme: Literal["https", "http"] = "https"
    instance_name: str = "Cercle"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr
    charter: str = "group"
    charter_dir: Path = Path("charter")
    data_dir: Path = Path("var")
    media_dir: Path = Path("var/media")
    registration: Literal["open", "invite", "closed"] = "invite"
    federation_mode: Literal["allowlist", "open"] = "allowlist"
    allow_private_addresses: bool = False
    peers: list[Peer] = Field(default_factory=list)
    smtp: Smtp = Field(default_factory=Smtp)
    default_language: Literal["en", "fr", "de"] = "en"
    run_workers_in_process: bool = True
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=64)
    demo: bool = False
    peer_unreachable_after_hours: int = Field(default=48, ge=1)
    delivery_lease_seconds: int = Field(default=60, ge=5)
    inbox_max_bytes: int = Field(default=1_048_576, ge=1024)
    inbox_max_depth: int = Field(default=32, ge=4)
    signature_max_skew_seconds: int = Field(default=300, ge=1)
    fetch_max_bytes: int = Field(default=1_048_576, ge=1024)
    fetch_timeout_seconds: float = Field(default=10.0, gt=0)
    remote_media_max_bytes: int = Field(default=52_428_800, ge=1024)  # an attachment fetched from a peer
    backfill_threads: int = Field(default=20, ge=0, le=200)  # 0: a joining instance fetches no history
    backfill_thread_items: int = Field(default=200, ge=1, le=2000)
    mail_full_text_for_private: bool = False
    # How often the worker counts the instance's adoption figures ahead of time; the dashboard shows
    # figures at most twice as old. 0: no snapshots, every view counts them (server/services/analytics.py).
    analytics_refresh_seconds: int = Field(default=600, ge=0, le=86_400)
    # Single sign-on, provisioning and logs (server/identity/, server/logging_setup.py).
    oidc_discovery_url: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    oidc_claims: dict[str, str] = Field(default_factory=dict)
    oidc_admin_claim: str | None = None
    oidc_admin_value: str = "cercle-admins"
    oidc_button_label: str = "Single sign-on"
    sso_only: bool = False
    scim_token: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower()
        if not value or "/" in value or " " in value or value.startswith("http"):
            raise ValueError(
                "must be a host name with an optional port, like 'paris.example.com' (no scheme)"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters; `cercle init` generates one")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with 'sqlite+aiosqlite://' or 'postgresql+asyncpg://'")
        return value

    @model_validator(mode="after")
    def _http_only_for_loopback(self) -> Settings:
        if self.scheme == "http" and not is_loopback_host(host_of(self.domain)):
            raise ValueError("scheme: 'http' is allowed only for a loopback domain such as localhost:8000")
        return self

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def host(self) -> str:
        return host_of(self.domain)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def peer(self, domain: str) -> Peer | None:
        domain = domain.lower()
        return next((p for p in self.peers if p.domain == domain), None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @field_validator("oidc_discovery_url")
    @classmethod
    def _oidc_discovery_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme, _, rest = value.partition("://")
        host = host_of(rest.split("/", 1)[0].rsplit("@", 1)[-1])
        if scheme != "https" and not (scheme == "http" and is_loopback_host(host)):
            raise ValueError("must be an https:// URL (http:// only on a loopback host)")
        return value

    @field_validator("oidc_claims")
    @classmethod
    def _oidc_claims(cls, value: dict[str, str]) -> dict[str, str]:
        known = {"username", "email", "display_name", "job_title", "department", "site"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"'{unknown[0]}' is not a mapped field (one of: {', '.join(sorted(known))})")
        return value

    @field_validator("scim_token")
    @classmethod
    def _scim_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (or unset to turn SCIM off)")
        return value

    @model_validator(mode="after")
    def _sso_needs_a_provider(self) -> Settings:
        if self.oidc_discovery_url and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError(
                "oidc_client_id: is required (with oidc_client_secret) when oidc_discovery_url is set"
            )
        if self.sso_only and not self.oidc_discovery_url:
            raise ValueError("sso_only: needs oidc_discovery_url, or nobody could sign in")
        return self


def _describe(error: Any) -> str:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("function-after",)]
    name = ".".join(loc) if loc else "settings"
    env = "CERCLE_" + "__".join(part.upper() for part in loc if not part.isdigit()) if loc else ""
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        message = "is required"
    elif error.get("type") == "extra_forbidden":
        message = "is not a known setting"
    if not loc and ": " in message:
        name, message = message.split(": ", 1)
        env = "CERCLE_" + name.upper()
    where = f" ({env})" if env else ""
    return f"setting '{name}'{where}: {message}"


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"config file {path}: not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: {exc}") from exc


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `config_file` (TOML), overridden by `CERCLE_*` variables, then by `overrides`."""
    file_values = read_config_file(config_file) if config_file is not None else {}

    class _FileSource(PydanticBaseSettingsSource):
        def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
            return file_values.get(field_name), field_name, False

        def __call__(self) -> dict[str, Any]:
            return dict(file_values)

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _FileSource(settings_cls))

    try:
        return _Loaded(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc.errors()[0])) from exc
