"""otelite: an OpenTelemetry collector and query API in one process, for AI-agent traces."""

__version__ = "0.1.0"
