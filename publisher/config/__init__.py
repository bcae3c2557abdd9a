"""The typed, immutable configuration, loaded once from config.toml and passed down.

`values` checks single values (zones, cron expressions, durations, URLs), `model` holds the
sections, `load` finds the file and reports every problem with its key path.
"""

from publisher.bundled import BUNDLED_PREFIX
from publisher.config.load import (
    CONFIG_ENV,
    find_config,
    load_config,
    parse_config,
)
from publisher.config.model import (
    Bucket,
    Config,
    Country,
    Digest,
    Feeds,
    Mail,
    Scheduler,
    Secrets,
    Site,
    Smtp,
    Source,
    Web,
    country_in,
)

__all__ = [
    "BUNDLED_PREFIX", "CONFIG_ENV", "Bucket", "Config", "Country", "Digest", "Feeds", "Mail", "Scheduler",
    "Secrets", "Site", "Smtp", "Source", "Web", "country_in", "find_config", "load_config", "parse_config",
]
