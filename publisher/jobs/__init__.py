"""The use cases: each opens its own transactions and returns what it did. cli, run and web call these."""
