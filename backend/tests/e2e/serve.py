"""Run the API, its embedded worker and the dashboard for browser tests: `python -m tests.e2e.serve PORT`.

Settings come from the environment (see conftest.py); the process is stopped with SIGTERM."""

from __future__ import annotations

import sys

import uvicorn
from app.api.routes import dashboard
from app.core.config import Settings
from app.main import create_app


def main() -> None:
    port = int(sys.argv[1])
    settings = Settings()
    settings.bind_host = "127.0.0.1"  # where it listens: open in development, keys with ENVIRONMENT=production
    app = create_app(settings)
    if not any(getattr(route, "path", None) == "/dashboard" for route in app.routes):
        dashboard.mount(app)  # until app.main includes the dashboard itself
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
