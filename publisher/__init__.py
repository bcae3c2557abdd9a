"""publisher: press releases to per-country feeds and subscriber digests."""
