"""Receivers (OTLP gRPC and HTTP) -> GenAI normalisation -> the batching writer."""
