"""The people who receive digests: their addresses and countries, double opt-in, signed links."""
