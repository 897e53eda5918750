"""The route table of every area: finds the handler of a request (404 unknown path, 405 other method)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from airflow_provider_genesys.testing.areas.calls import Handler, Route
from airflow_provider_genesys.testing.errors import ApiError, not_found


class Router:
    """Routes in the order given: the first whose pattern and method match wins."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = [(m, re.compile(f"^{p}$"), name, h) for m, p, name, h in routes]

    def resolve(self, method: str, path: str) -> tuple[str, Handler, tuple[str, ...]]:
        """``("METHOD route name", handler, decoded path parameters)``."""
        known_path = False
        for route_method, pattern, name, handler in self.routes:
            match = pattern.match(path)
            if match:
                known_path = True
                if route_method == method:
                    return f"{method} {name}", handler, tuple(unquote(g) for g in match.groups())
        if known_path:
            raise ApiError(405, "method.not.allowed", f"HTTP method {method} is not supported by {path}.")
        raise not_found(f"No resource found at {path}.")
