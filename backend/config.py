"""One Settings object, read from the environment (prefix ``WES_``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Public (it is in this file): accepted only where the environment says development or test, explicitly.
DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"
SECRET_MIN_LENGTH = 32
SECRET_MIN_BITS = 128
# zxcvbn refuses longer input; a secret's first 72 characters must be strong on their own.
_ESTIMATED_PREFIX = 72
# Where printers may be: the private networks (RFC 1918, RFC 4193 unique local) and loopback.
DEFAULT_PRINTER_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128")


def secret_strength_bits(secret: str) -> float:
    """How many bits an attacker must guess, by zxcvbn's estimate (dictionary words, repeats, sequences, keyboard
    patterns and dates count for what they are worth; random characters ~3.3 bits each), over the first 72
    characters."""
    from zxcvbn import zxcvbn

    estimate = zxcvbn(secret[:_ESTIMATED_PREFIX], user_inputs=["wes", "warehouse", "secret"])
    return estimate["guesses_log10"] * math.log2(10)


def secret_problem(secret: str) -> str | None:
    """Why `secret` may not sign tokens in production, or None: the development secret, shorter than 32 characters,
    or weaker than 128 bits by `secret_strength_bits`."""
    if secret == DEV_SECRET:
        return "WES_SECRET_KEY is the public development secret"
    if len(secret) < SECRET_MIN_LENGTH:
        return f"WES_SECRET_KEY has {len(secret)} characters; it needs {SECRET_MIN_LENGTH} or more"
    bits = secret_strength_bits(secret)
    if bits < SECRET_MIN_BITS:
        return (f"WES_SECRET_KEY is too easy to guess (about {bits:.0f} bits; it needs {SECRET_MIN_BITS}): "
                "repeated or dictionary words, sequences")
    return None


class Settings(BaseSettings):
    # (hide_input_in_errors: a refused WES_SECRET_KEY must not be printed in the error that refuses it)
    model_config = SettingsConfigDict(env_prefix="WES_", extra="ignore", hide_input_in_errors=True)

    # Production unless said otherwise: then the secret must be strong. `wes demo` sets development itself.
    environment: Literal["development", "test", "production"] = "production"
    database_url: str = "sqlite:///./var/wes.db"
    secret_key: str = DEV_SECRET
    # Access tokens are short; the PWA and wall renew them with a rotating refresh token that lasts a shift.
    # argon2id's cost for stored passwords: argon2-cffi's time and memory, one lane. Production refuses less than
    # OWASP's minimum (19 MiB, t=2); the test suite lowers it so that its thousands of logins do not take minutes.
    # One lane: a check then runs on one core (~170 ms here), so the hashing slots (login_hash_slots, half the
    # cores) bound the CPU that logins take; with four lanes each check spread over every core for ~120 ms, and
    # a login flood slowed every other request with it. (A stored hash is checked with the lanes it was made with.)
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    password_hash_parallelism: int = Field(default=1, ge=1, le=16)
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_hours: float = Field(default=12.0, gt=0)
    # Failed logins (backend.auth.login): free attempts per user name and per client address, then a doubling wait
    # (from 1 s) up to the lockout; a name's count is forgotten this long after its last failure.
    login_free_failures_per_user: int = Field(default=5, ge=1)
    login_free_failures_per_client: int = Field(default=20, ge=1)
    login_backoff_seconds: float = Field(default=1.0, gt=0)  # the first wait; each further failure doubles it
    login_lockout_seconds: int = Field(default=900, ge=1)
    login_failure_memory_seconds: int = Field(default=3600, ge=1)
    # Password checks (argon2) running at once; more are refused with 429 (0: half the CPU cores, at least 1).
    login_hash_slots: int = Field(default=0, ge=0)
    # A login over HTTP refused with 429 is answered after this long (at most its Retry-After): a client that
    # floods /auth/token gets one answer per connection per this long, and the wait costs no thread or CPU.
    login_refusal_delay_seconds: float = Field(default=1.0, ge=0, le=30)
    # Requests bigger than this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # GS1 company prefix used for SSCCs of pallets and cartons we build.
    gs1_company_prefix: str = Field(default="0614141", pattern=r"^\d{6,12}$")
    sscc_extension_digit: int = Field(default=0, ge=0, le=9)
    # Apply Alembic migrations when the app starts (wes serve / wes demo).
    auto_migrate: bool = True
    firmware_profiles_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    # Print spool: a worker per app sends queued labels over TCP 9100 (off: this replica only queues).
    print_spool_enabled: bool = True
    print_poll_seconds: float = Field(default=1.0, gt=0)
    print_connect_timeout: float = Field(default=3.0, gt=0)
    print_send_timeout: float = Field(default=10.0, gt=0)
    print_status_timeout: float = Field(default=2.0, gt=0)
    print_retry_initial_seconds: float = Field(default=0.5, gt=0)
    print_retry_max_seconds: float = Field(default=30.0, gt=0)
    # Labels sent to one printer in one TCP connection (all or nothing is uncertain when it breaks).
    print_batch_size: int = Field(default=25, ge=1, le=500)
    # A worker's claim on a printer; must outlast one batch (connect + send + confirm).
    print_lease_seconds: float = Field(default=60.0, ge=5)
    # Printers' hosts must be (or resolve to) addresses in these networks: WES_PRINTER_NETWORKS=10.0.0.0/8,… .
    printer_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = DEFAULT_PRINTER_NETWORKS
    # GET /metrics: Prometheus sends this as a bearer token ("": only an all-sites admin's token opens it).
    metrics_token: str = ""
    # /ws/echo, the floor under /ws/device's round trip in `wes bench realtime` (which turns it on); off: 404.
    echo_socket_enabled: bool = False
    # ERP webhooks (backend.webhooks.delivery): a sender per app posts each site's events to its subscriptions
    # (off: this replica only records them). A failed event is retried after initial × 2^n seconds, up to the cap.
    webhook_delivery_enabled: bool = True
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_retry_initial_seconds: float = Field(default=1.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=300.0, gt=0)
    # A sender's claim on a subscription; must outlast one POST (webhook_timeout_seconds).
    webhook_lease_seconds: float = Field(default=60.0, ge=2)
    # How long a rotated-out signing secret still signs, unless the rotation says otherwise.
    webhook_secret_overlap_hours: float = Field(default=24.0, ge=0)
    # Realtime (devices, commands, hub): "" picks memory:// on SQLite and the database's LISTEN/NOTIFY on PostgreSQL.
    realtime_hub_url: str = ""
    # PostgreSQL: the device commands' statements wait in the pipeline for the next answer wanted instead of
    # each being written to the socket (backend/sql/held.py; off, or a psycopg it was not checked against: plain).
    pg_hold_statements: bool = True
    ws_auth_timeout_seconds: float = Field(default=10.0, gt=0)
    ws_heartbeat_seconds: float = Field(default=20.0, gt=0)
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_outbound_queue: int = Field(default=512, ge=8)
    device_token_days: int = Field(default=365, ge=1)
    device_enrollment_minutes: int = Field(default=60, ge=1)
    dispatch_priority_per_metre: float = Field(default=1.0, ge=0)
    # The due ABC cycle counts are created at start-up and then every this many minutes (0: never, e.g. when
    # `wes counts schedule` runs from cron).
    cycle_count_every_minutes: int = Field(default=60, ge=0)
    # Orders at risk of missing their cut-off (backend.insights.at_risk): predictions are recorded and scored, and
    # newly at-risk orders alerted, every this many seconds (0: never).
    at_risk_sweep_seconds: int = Field(default=60, ge=0)
    # A zone's lines per picker-hour when nobody picked there in the last hour.
    at_risk_default_lines_per_hour: float = Field(default=60.0, gt=0)
    # … and when fewer picks than this were done there in the last hour (a shift just starting: one pick in its
    # first minute is not a rate of one line an hour).
    at_risk_min_picks_for_rate: int = Field(default=10, ge=1)
    # A picker is in a zone while they hold a pick there, or picked or scanned there within these minutes.
    at_risk_active_minutes: int = Field(default=15, ge=1)
    # Packing, loading and shipping after the last pick, and how tight a finish is still flagged.
    at_risk_pack_ship_minutes: float = Field(default=15.0, ge=0)
    at_risk_margin_minutes: float = Field(default=10.0, ge=0)
    # Orders whose cut-off is further away than this are not predicted yet.
    at_risk_horizon_hours: float = Field(default=8.0, gt=0)
    # Anomalies (backend.insights.anomalies): short picks over the last N days (1: today), count variances over the
    # last N days (7: this week), against the site's rate over the baseline days before; flagged from this many
    # events and this many times what the site's rate predicts.
    anomaly_short_pick_days: int = Field(default=1, ge=1)
    anomaly_count_variance_days: int = Field(default=7, ge=1)
    anomaly_baseline_days: int = Field(default=28, ge=1)
    anomaly_min_events: int = Field(default=2, ge=1)
    anomaly_factor: float = Field(default=3.0, ge=1)

    @field_validator("printer_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> "Settings":
        if self.environment == "production":
            problem = secret_problem(self.secret_key)
            if problem:
                raise ValueError(f"{problem}. Set WES_SECRET_KEY to a new random value (`wes secret` prints one), "
                                 "or WES_ENVIRONMENT=development on a development machine")
            if self.metrics_token and len(self.metrics_token) < SECRET_MIN_LENGTH:
                raise ValueError(f"WES_METRICS_TOKEN needs {SECRET_MIN_LENGTH} or more random characters")
            if self.password_hash_memory_kib < 19456 or self.password_hash_time_cost < 2:
                raise ValueError("WES_PASSWORD_HASH_MEMORY_KIB must be 19456+ and WES_PASSWORD_HASH_TIME_COST 2+ in "
                                 "production (OWASP's minimum for argon2id)")
        return self

    @property
    def uses_public_secret(self) -> bool:
        return self.secret_key == DEV_SECRET

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
