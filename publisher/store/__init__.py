"""The store: typed models, the engine and its migrations, and the queries the use cases share."""
