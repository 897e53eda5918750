"""A Genesys Cloud emulator for offline tests: a real HTTP server on loopback with a generated org.

``GenesysCloudEmulator`` is imported lazily so that ``python -m airflow_provider_genesys.testing.emulator``
does not import its own module twice. Nothing here imports Airflow or the rest of the provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_genesys.testing.emulator import GenesysCloudEmulator

__all__ = ["GenesysCloudEmulator"]


def __getattr__(name: str) -> Any:
    if name == "GenesysCloudEmulator":
        from airflow_provider_genesys.testing.emulator import GenesysCloudEmulator

        return GenesysCloudEmulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
