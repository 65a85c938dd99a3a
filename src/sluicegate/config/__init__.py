"""Gateway configuration: typed schema, YAML loader with env substitution, embedded defaults."""

from .defaults import embedded_defaults
from .loader import ConfigError, check_config, import_litellm, load_config
from .schema import BackendConfig, GatewayConfig, ModelConfig, Timeouts, UserConfig

__all__ = [
    "BackendConfig",
    "ConfigError",
    "GatewayConfig",
    "ModelConfig",
    "Timeouts",
    "UserConfig",
    "check_config",
    "embedded_defaults",
    "import_litellm",
    "load_config",
]
