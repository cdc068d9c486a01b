"""The FastAPI app: journeys lifecycle, templates, ingestion, users, inbox, metrics."""
