"""Receivers (OTLP gRPC and HTTP) -> GenAI normalisation -> the one ingest path (group commit into the store)."""
