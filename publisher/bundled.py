"""Files shipped inside the package (`publisher/data/`), named `bundled:NAME` wherever a file
path or URL may stand. Its own module: an import's helper process reads files without loading
the config's models."""

BUNDLED_PREFIX = "bundled:"
