"""Integrica on FastAPI: `uvicorn examples.fastapi_app.app:app`."""
