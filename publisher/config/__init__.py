"""schedules.yaml: its models and its loader (names re-exported here)."""

from publisher.config.load import (
    ConfigError,
    LoadedConfig,
    Problem,
    cross_check,
    load,
    load_with_problems,
    resolve_env,
)
from publisher.config.models import (
    ENV_REF,
    ENV_REF_WHOLE,
    ID_PATTERN,
    AlertsConfig,
    ChannelConfig,
    ClusterConfig,
    ColumnSpec,
    Config,
    Defaults,
    IntakeConfig,
    InterpretationConfig,
    ReleaseDefinition,
    RetryPolicy,
    SourceConfig,
    TableSchema,
    TableSource,
    UrgentConfig,
    WebConfig,
)

__all__ = [
    "ENV_REF", "ENV_REF_WHOLE", "ID_PATTERN", "AlertsConfig", "ChannelConfig", "ClusterConfig",
    "ColumnSpec", "Config",
    "ConfigError", "Defaults", "IntakeConfig", "InterpretationConfig", "LoadedConfig", "Problem",
    "ReleaseDefinition", "RetryPolicy", "SourceConfig", "TableSchema", "TableSource",
    "UrgentConfig", "WebConfig", "cross_check", "load", "load_with_problems", "resolve_env",
]
