"""What an import is made with besides its input: the config sections ingest reads (the site, the
countries with their keywords, the tagging rules). A change to any of them imports an unchanged
file again (fingerprints.py)."""

from __future__ import annotations

from dataclasses import dataclass

from publisher.config import Config, Country, Site
from publisher.config.model import Tagging


@dataclass(frozen=True)
class IngestConfig:
    site: Site
    countries: tuple[Country, ...]
    tagging: Tagging

    @classmethod
    def of(cls, config: Config) -> IngestConfig:
        return cls(config.site, config.countries, config.tagging)

    @property
    def country_codes(self) -> tuple[str, ...]:
        return tuple(country.code for country in self.countries)
