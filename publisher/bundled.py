"""Files shipped inside the package (`publisher/data/`), named `bundled:NAME` wherever a file
path or URL may stand. Its own module: an import's helper process reads files without loading
the config's models."""

BUNDLED_PREFIX = "bundled:"


def bundled_names() -> list[str]:
    """The shipped files a source may name (`bundled:NAME`): the sample releases, not the config."""
    from importlib import resources  # (here: the helper process never needs it)

    return sorted(entry.name for entry in resources.files("publisher").joinpath("data").iterdir()
                  if entry.is_file() and entry.name.endswith((".txt", ".json", ".csv", ".html")))
