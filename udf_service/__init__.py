"""The scoring microservice (an ASGI app on uvicorn) and the HTTP enrichment step that calls it."""
