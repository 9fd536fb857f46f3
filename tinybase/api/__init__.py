"""The HTTP layer: the FastAPI app factory and thin routers over the services."""
