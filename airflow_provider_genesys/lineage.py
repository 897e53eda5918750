"""Lineage of the extract operator: OpenLineage input/output datasets and Airflow Assets for its destination.

OpenLineage naming (docs/operators.md, "Lineage"):

- input: namespace ``genesys://<API host>`` (``genesys://api.mypurecloud.ie``, or the gateway's
  ``host[:port]``), name ``<organisation id>/<dataset>`` (``6c1b.../users``): the organisation is the
  database, the dataset its table.
- output: the destination by OpenLineage's naming conventions: ``file`` + the absolute path for local files;
  ``<scheme>://<bucket>`` + the key for object stores (``s3://bucket`` + ``genesys/users.ndjson``).

Assets: a destination without a template is an ``Asset`` known when the DAG is parsed. A templated one
(``.../{{ ds }}/users.ndjson``) is only known when the task runs, so the task declares an ``AssetAlias`` named
after the template and, once the file is written, attaches the rendered ``Asset`` to it through
``outlet_events`` (Airflow 3.0+); the Assets page then lists every file written and consumers can schedule
on the alias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import Asset, AssetAlias

if TYPE_CHECKING:
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

NAMESPACE_SCHEME = "genesys"
ALIAS_PREFIX = "genesys-extract "


def genesys_namespace(api_base_url: str) -> str:
    """``genesys://<host[:port]>`` of the API base URL the connection reaches."""
    return f"{NAMESPACE_SCHEME}://{urlsplit(api_base_url).netloc}"


def destination_dataset(uri: str) -> tuple[str, str]:
    """(namespace, name) of a destination URI by OpenLineage's naming conventions."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return "file", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def destination_outlet(destination: str, uri: str | None, prefix: str = ALIAS_PREFIX) -> Asset | AssetAlias:
    """What the task declares in ``outlets``: the Asset at ``uri``, or (``uri`` None: the destination holds a
    template) an alias named ``prefix`` + the template, which receives the rendered Asset at run time."""
    if uri is None:
        return AssetAlias(f"{prefix}{destination}")
    return Asset(uri)


def emit_destination_asset(outlets: list[Any], context: Any, uri: str, prefix: str = ALIAS_PREFIX) -> None:
    """Attach the file just written to the task's alias named with ``prefix`` (no-op for a static Asset).

    Airflow's task runner always provides ``outlet_events``; an ``execute(context)`` called by hand may not.
    """
    events = context.get("outlet_events")
    for outlet in outlets:
        if events is not None and isinstance(outlet, AssetAlias) and outlet.name.startswith(prefix):
            events[outlet].add(Asset(uri))


def access_lineage(hook: GenesysCloudHook, relation: str, plan_uri: str, report_uri: str) -> Any:
    """The ``OperatorLineage`` of one access apply: the plan file in; the report file and the organisation's
    ``access/<relation>`` (what apply wrote to) out."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    with hook:
        org_id = hook.get_organization()["id"]
        namespace = genesys_namespace(hook.settings.api_base_url)
    return OperatorLineage(
        inputs=[Dataset(namespace=ns, name=name) for ns, name in [destination_dataset(plan_uri)]],
        outputs=[Dataset(namespace=ns, name=name) for ns, name in [destination_dataset(report_uri)]]
        + [Dataset(namespace=namespace, name=f"{org_id}/access/{relation}")],
    )


def extract_lineage(hook: GenesysCloudHook, dataset: str, uri: str) -> Any:
    """The ``OperatorLineage`` of one finished extract (OpenLineage provider installed).

    Reads the organisation id (one ``GET /api/v2/organizations/me``): two organisations in one region are
    different databases.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    with hook:
        org_id = hook.get_organization()["id"]
        namespace = genesys_namespace(hook.settings.api_base_url)
    output_namespace, output_name = destination_dataset(uri)
    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=f"{org_id}/{dataset}")],
        outputs=[Dataset(namespace=output_namespace, name=output_name)],
    )
