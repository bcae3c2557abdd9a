"""The app for any ASGI server: `uvicorn publisher.web.asgi:app` (config from $PUBLISHER_CONFIG,
else ./config.toml, else the embedded defaults)."""

from publisher.config import load_config
from publisher.store.db import open_store
from publisher.web.app import create_app

_config = load_config()
app = create_app(_config, open_store(_config))
