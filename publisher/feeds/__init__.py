"""Atom, RSS and JSON feeds per country and for all countries, with their index and OPML."""
