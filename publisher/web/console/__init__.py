"""The operator console (/admin) and the operators' HTTP API (/api/v1)."""
