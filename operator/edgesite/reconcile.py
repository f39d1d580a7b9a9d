"""Desired children versus live children, as pure functions: what to apply, what to prune.

A child is applied only when a field the operator sets differs from the live object, so a resync of an
unchanged site makes no write at all, and drift in an owned field is put back on the next pass. Fields
that others set are never compared and never touched (server-side apply keeps them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .render import MANAGED_BY, SITE_LABEL

OWNER_API_VERSION = "edgesite.io/v1alpha1"


def selector(site_name: str) -> str:
    """The label selector of a site's children."""
    return f"{SITE_LABEL}={site_name},app.kubernetes.io/managed-by={MANAGED_BY}"


def owned(manifest: dict[str, Any], *, name: str, uid: str) -> dict[str, Any]:
    """The manifest with an owner reference to its EdgeSite, so deleting the site cascades."""
    metadata = {**manifest["metadata"], "ownerReferences": [{
        "apiVersion": OWNER_API_VERSION, "kind": "EdgeSite", "name": name, "uid": uid,
        "controller": True, "blockOwnerDeletion": True}]}
    return {**manifest, "metadata": metadata}


def covers(desired: Any, live: Any) -> bool:
    """True when every value in `desired` is present and equal in `live` (extra live fields are ignored)."""
    if isinstance(desired, dict):
        # The server omits empty lists and maps (`ingress: []` of a deny-all policy is stored as no field).
        return isinstance(live, dict) and all(covers(value, live[key]) if key in live else value in ([], {})
                                              for key, value in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(covers(d, l) for d, l in zip(desired, live))
    return bool(desired == live)


def key(manifest: dict[str, Any]) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


@dataclass(frozen=True)
class Changes:
    """What one reconcile pass writes."""

    apply: list[dict[str, Any]]
    prune: list[dict[str, Any]]
    created: int
    updated: int


def changes(desired: list[dict[str, Any]], live: list[dict[str, Any]], *, owner_uid: str) -> Changes:
    """Children to apply (new or drifted) and to prune (ours, no longer desired)."""
    live_by_key = {key(obj): obj for obj in live}
    apply = [obj for obj in desired if key(obj) not in live_by_key or not covers(obj, live_by_key[key(obj)])]
    wanted = {key(obj) for obj in desired}
    prune = [obj for obj in live if key(obj) not in wanted and any(
        ref.get("uid") == owner_uid for ref in obj["metadata"].get("ownerReferences", []))]
    created = sum(1 for obj in apply if key(obj) not in live_by_key)
    return Changes(apply=apply, prune=prune, created=created, updated=len(apply) - created)
