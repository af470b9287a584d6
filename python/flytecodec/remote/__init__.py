"""Remote execution wrappers, as in ``flytekit.remote``."""
