"""Running in production (SPEC §7): health checks, Prometheus metrics, request ids, JSON logs,
the periodic purge.

`metrics` imports only prometheus_client, so that any layer may count an outcome through it
without importing the web layer.
"""
