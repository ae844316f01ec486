"""`trainlab serve`: a live dashboard over a store (FastAPI and uvicorn: the optional extra `serve`)."""
