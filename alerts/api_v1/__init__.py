"""`/api/v1`: the stable JSON API (see `routes.py` and docs/api.md)."""

from alerts.api_v1.routes import api_v1_router, openapi_document

__all__ = ["api_v1_router", "openapi_document"]
