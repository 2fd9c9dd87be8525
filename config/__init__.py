"""Typed, validated environment settings: the single source of per-environment differences."""

from config.settings import (
    ConfigError,
    EnvironmentConfig,
    available_environments,
    load_all_environments,
    load_environment,
    select_environments,
)

__all__ = [
    "ConfigError",
    "EnvironmentConfig",
    "available_environments",
    "load_all_environments",
    "load_environment",
    "select_environments",
]
