"""The job types Skiplock ships: thin adapters from params to domain calls (`app.video`, `app.ml`) that
register themselves with the engine's `@job_type`. Importing this package registers them all."""

from app.jobs import builtin, documents, maintenance, media, stress, training, webhooks  # noqa: F401
