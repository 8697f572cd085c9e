"""Job handlers: thin adapters from params to domain calls. Importing this package registers them all."""

from app.worker.handlers import builtin, cut_analysis, maintenance, restoration, training  # noqa: F401
