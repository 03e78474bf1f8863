"""One Settings object, read from the environment (prefix ``WES_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WES_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/wes.db"
    secret_key: str = DEV_SECRET
    access_token_minutes: int = Field(default=12 * 60, ge=1)
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

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> "Settings":
        if self.environment == "production":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise ValueError("WES_SECRET_KEY must be set to a random value of 32+ characters in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
