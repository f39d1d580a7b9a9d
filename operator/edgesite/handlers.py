"""The kopf handlers: one level-based reconcile, triggered by the site, by its children, and by a resync.

Only this module, `kube` and the CLI do I/O. Handlers return nothing (kopf would write a returned value
into the status on every call), sleep never (TemporaryError carries the delay), and write only when
something differs.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
import time
from collections.abc import Iterator
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from . import metrics
from .kube import Kube
from .lint import Finding, lint
from .observe import model_health, remembered_fallbacks, site_nodes
from .peering import Replica
from .policies import Observations, UplinkState, decide
from .reconcile import changes, owned, selector
from .render import SITE_LABEL, render
from .status import (ConditionState, component_status, invalid_spec_conditions, merge_conditions, ready_summary,
                     site_conditions, without_times)
from .uplink import Prober
from .watch import ChildWatches
from .validation import Document, check_document

GROUP, VERSION, PLURAL = "edgesite.io", "v1alpha1", "edgesites"
RESYNC_SECONDS = float(os.environ.get("EDGESITE_RESYNC_SECONDS", "60"))
LIST_CHUNK = 100  # sites per page of a LIST (kopf's initial listing, the resync, node changes)
WORKER_LIMIT = 16  # kopf workers at once; safe because the operator declares no kopf index (it would deadlock)

log = logging.getLogger("edgesite.reconcile")
_kube: Kube | None = None
_appliers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="edgesite-apply")
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def kube() -> Kube:
    global _kube
    if _kube is None:
        _kube = Kube.from_environment()
    return _kube


_prober: Prober | None = None


_kopf_context: contextvars.Context | None = None


def in_kopf_context(function: Any, *args: Any) -> None:
    """Run work started by our own threads (resync, uplink probes) in kopf's context, so events can be posted."""
    if _kopf_context is None:
        function(*args)
    else:
        _kopf_context.copy().run(function, *args)


def prober() -> Prober:
    global _prober
    if _prober is None:
        _prober = Prober(on_change=request_pass)
    return _prober


def lock_for(namespace: str, name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((namespace, name), threading.Lock())


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------- settings


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = "edgesite.io/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="edgesite.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="edgesite.io",
                                                                             key="last-handled-configuration")
    settings.posting.reporting_component = "edgesite-operator"
    settings.watching.server_timeout = 300
    settings.watching.chunk_size = LIST_CHUNK  # a thousand sites listed at once would be one ~40 MiB peak
    settings.execution.max_workers = 8
    # A cold start hands kopf every site at once; unbounded, it would hold a worker (and a connection for
    # its events) per site while eight threads do the work. Bounded, the rest wait as raw events.
    settings.queueing.worker_limit = WORKER_LIMIT
    settings.posting.worker_limit = 4
    settings.batching.idle_timeout = 0.5  # a finished worker frees its slot soon (kopf waits 5 s for more events)
    metrics.serve()


# --------------------------------------------------------------------------------------- reconcile


_dirty: set[tuple[str, str]] = set()


def reconcile(body: Any, *, reason: str) -> None:
    """Reconcile now (spec changes, resyncs), then run any pass that child events asked for meanwhile."""
    meta = body["metadata"]
    try:
        with lock_for(meta["namespace"], meta["name"]):
            _dirty.discard((meta["namespace"], meta["name"]))
            reconcile_locked(body, reason=reason)
    finally:
        drain(meta["namespace"], meta["name"])


_passes = ThreadPoolExecutor(max_workers=4, thread_name_prefix="edgesite-pass")


def request_pass(key: tuple[str, str]) -> None:
    """Ask for a reconcile of the site `key` (namespace, name) from a child, node or uplink change.

    A site already marked dirty has a pass coming (a queued drain, or the lock holder's next loop), so a
    storm of requests queues one task per site, not one per request.
    """
    if key in _dirty or not REPLICA.acts():
        return
    _dirty.add(key)
    _passes.submit(in_kopf_context, drain, *key)


def drain(namespace: str, name: str) -> None:
    """Child events come in storms (every pod that turns Ready): they coalesce into one pass at a time."""
    key = (namespace, name)
    lock = lock_for(namespace, name)
    while key in _dirty and lock.acquire(blocking=False):
        try:
            _dirty.discard(key)
            reconcile_locked(kube().site(namespace, name), reason="child")
        except (kopf.PermanentError, kopf.TemporaryError, ApiException):
            pass  # reported in the status and events; the next request or resync tries again
        except Exception:  # noqa: BLE001 - logged; the next request or resync tries again
            log.exception("reconcile of %s/%s failed", namespace, name)
        finally:
            lock.release()


def reconcile_locked(body: Any, *, reason: str) -> None:
    """Make the site's children match its spec, and say truthfully what is running."""
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    with metrics.reconciling() as record:
        document = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "EdgeSite",
                    "metadata": {"name": name, "namespace": namespace}, "spec": dict(body.get("spec") or {})}
        site, problems = check_document(Document(f"{namespace}/{name}", 0, document, json.dumps(document, indent=1)))
        previous = dict(body.get("status") or {})
        generation = int(meta.get("generation", 1))
        if site is None:
            first = problems[0]
            message = f"{first.path}: {first.message}" + (f" (got {first.got})" if first.got is not None else "")
            status = {"observedGeneration": generation,
                      "conditions": merge_conditions(previous.get("conditions", []), invalid_spec_conditions(message),
                                                     generation=generation, now=now())}
            write_status(namespace, name, previous, status)
            record("invalid")
            if previous.get("observedGeneration") != generation or not _has_reason(previous, "InvalidSpec"):
                kopf.warn(body, reason="InvalidSpec", message=message)
            raise kopf.PermanentError(f"invalid spec: {message}")
        findings = lint(site)
        if previous.get("observedGeneration") != generation:
            announce_findings(body, findings)
        prober().configure((namespace, name), site.spec.uplink.probe)
        uplink = prober().state((namespace, name))
        try:
            seen = Observations(now=time.time(), nodes=site_nodes(site, kube().nodes()), uplink=uplink,
                                models=model_health(site, kube().pods(namespace, f"{SITE_LABEL}={name}")),
                                fallback_since=remembered_fallbacks(site, previous.get("components") or []))
        except ApiException as error:
            record("error")
            raise kopf.TemporaryError(f"cannot observe the site: {_server_message(error)}", delay=10) from error
        decision = decide(site, seen)
        plan = decision.plan
        desired = [owned(manifest, name=name, uid=uid) for manifest in render(site, plan)]
        try:
            live = kube().children(namespace, selector(name))
            todo = changes(desired, live, owner_uid=uid)
            # Children are independent objects: apply them side by side (a pod waits for its ConfigMap anyway).
            list(_appliers.map(kube().apply, todo.apply))
            for manifest in todo.prune:
                kube().delete(manifest)
        except ApiException as error:
            record("error")
            detail = _server_message(error)
            kopf.warn(body, reason="ApplyFailed", message=detail)
            raise kopf.TemporaryError(f"API server refused a change: {detail}", delay=10) from error
        if todo.created or todo.updated:
            names = ", ".join(f"{m['kind']}/{m['metadata']['name']}" for m in todo.apply[:6])
            more = f" and {len(todo.apply) - 6} more" if len(todo.apply) > 6 else ""
            event = "ChildrenCreated" if todo.created and not todo.updated else "ChildrenUpdated"
            if reason in ("resync", "child") and todo.updated:
                event = "DriftCorrected"
            kopf.info(body, reason=event, message=f"Applied {names}{more}.")
        if todo.prune:
            kopf.info(body, reason="ChildrenPruned",
                      message="Pruned " + ", ".join(f"{m['kind']}/{m['metadata']['name']}" for m in todo.prune) + ".")
        timestamp = now()
        by_child = {f"{name}-{r.component}": r.reason for r in decision.reasons if r.component}
        components = component_status(desired, live, now=timestamp, previous=previous.get("components") or [], reasons=by_child)
        site_reasons = decision.reasons
        degraded_message = " ".join(dict.fromkeys(
            f"{r.component}: {r.message}" if r.component else r.message for r in site_reasons))
        conditions = merge_conditions(previous.get("conditions") or [], site_conditions(
            components, mode=plan.mode, degraded_reason=site_reasons[0].reason if site_reasons else None,
            degraded_message=degraded_message, uplink=uplink_condition(site, uplink)), generation=generation, now=timestamp)
        status = {"mode": plan.mode, "observedGeneration": generation, "ready": ready_summary(components),
                  "conditions": conditions, "components": components, "lintFindings": len(findings)}
        if write_status(namespace, name, previous, status):
            announce_transitions(body, previous, conditions, components)
        metrics.site_mode(namespace, name, plan.mode)
        record("changed" if todo.apply or todo.prune else "unchanged")
        log.debug("reconciled %s/%s reason=%s applied=%d pruned=%d", namespace, name, reason, len(todo.apply), len(todo.prune))


def _server_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body)["message"])
    except (TypeError, ValueError, KeyError):
        return f"{error.status} {error.reason}"


def _has_reason(status: dict[str, Any], reason: str) -> bool:
    return any(c.get("reason") == reason for c in status.get("conditions", []))


def write_status(namespace: str, name: str, previous: dict[str, Any], status: dict[str, Any]) -> bool:
    """Patch the status only when it differs from what is stored."""
    current = {key: previous.get(key) for key in status}
    if without_times(current) == without_times(status):
        return False
    kube().patch_status(namespace, name, status)
    return True


def announce_findings(body: Any, findings: list[Finding]) -> None:
    """One event per finding of a new spec generation; findings never block a valid spec."""
    for finding in findings:
        post = kopf.info if finding.severity == "info" else kopf.warn
        post(body, reason=f"Lint{finding.rule}", message=f"{finding.path}: {finding.message} (fix: {finding.fix})")


def uplink_condition(site: Any, state: UplinkState) -> ConditionState:
    if site.spec.uplink.probe is None:
        return ConditionState("UplinkAvailable", "Unknown", "NoProbe", "No uplink probe is declared (spec.uplink.probe).")
    if state.online is None:
        return ConditionState("UplinkAvailable", "Unknown", "Probing", "The uplink probe has not decided yet.")
    if state.online:
        return ConditionState("UplinkAvailable", "True", "ProbeSucceeded", f"{site.spec.uplink.probe.url} answers.")
    return ConditionState("UplinkAvailable", "False", "UplinkLost", f"{site.spec.uplink.probe.url} failed {state.failures} probes in a row.")


def announce_transitions(body: Any, previous: dict[str, Any], conditions: list[dict[str, Any]],
                         components: list[dict[str, Any]]) -> None:
    """An event on every transition: site readiness, the Degraded reason, each component's state."""
    before = {c["type"]: c for c in previous.get("conditions") or []}
    for condition in conditions:
        old = before.get(condition["type"], {})
        if condition["type"] == "Ready" and old.get("status") != condition["status"]:
            kopf.info(body, reason="SiteReady" if condition["status"] == "True" else "SiteNotReady", message=condition["message"])
        if condition["type"] == "Degraded" and (old.get("status"), old.get("reason")) != (condition["status"], condition["reason"]):
            if condition["status"] == "True":
                kopf.warn(body, reason=condition["reason"], message=condition["message"])
            elif old:
                kopf.info(body, reason="Recovered", message=condition["message"])
    was = {c["name"]: c.get("state") for c in previous.get("components") or []}
    for component in components:
        if component["name"] in was and was[component["name"]] != component["state"] and component["state"] != "pending":
            post = kopf.info if component["state"] == "running" else kopf.warn
            reason = "Recovered" if component["state"] == "running" else component["reason"]
            post(body, reason=reason, message=f"{component['name']} is {component['state']} now ({component['reason']}).")


# ---------------------------------------------------------------------------------------- triggers


def remember_kopf_context() -> None:
    """Keep a copy of the context kopf runs handlers in (it carries the event poster's queue)."""
    global _kopf_context
    _kopf_context = contextvars.copy_context()


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def on_site(body: kopf.Body, **_: Any) -> None:
    remember_kopf_context()
    reconcile(body, reason="spec")


WATCHED_NAMESPACES: list[str] = []  # empty: all; set by the CLI
REPLICA = Replica(None, identity="", priority=0, namespaces=[])  # standalone unless the CLI says otherwise
_stop_resync = threading.Event()


def live_sites() -> Iterator[dict[str, Any]]:
    """Every watched EdgeSite that is not being deleted (one LIST per watched namespace, or one for all)."""
    for namespace in WATCHED_NAMESPACES or [None]:
        for body in kube().sites(namespace, chunk=LIST_CHUNK):
            if not body["metadata"].get("deletionTimestamp"):
                yield body


def resync_all() -> None:
    """Reconcile every site; a failing site does not stop the others."""
    for body in live_sites():
        try:
            reconcile(body, reason="resync")
        except (kopf.PermanentError, kopf.TemporaryError, ApiException):
            continue  # reported in the site's status and events; the site's own handlers retry


def _resync_loop() -> None:
    while not _stop_resync.wait(RESYNC_SECONDS):
        if not REPLICA.acts():
            continue  # another replica acts; kopf has paused this one's handlers too
        try:
            in_kopf_context(resync_all)
        except Exception:  # noqa: BLE001 - the next resync tries again; kopf logs handler errors
            continue


@kopf.on.startup()
def start_resync(**_: Any) -> None:
    """One operator-wide resync loop instead of a kopf timer per site: timers would put a finalizer on every
    EdgeSite, and a finalizer blocks deleting a site (and its namespace) whenever the operator is down."""
    _stop_resync.clear()
    threading.Thread(target=_resync_loop, name="edgesite-resync", daemon=True).start()
    ChildWatches(kube(), on_child_event, WATCHED_NAMESPACES).start()


@kopf.on.cleanup()
def stop_resync(**_: Any) -> None:
    _stop_resync.set()


_pod_health: dict[tuple[str, str], tuple[int, bool]] = {}


def pod_health_changed(pod: dict[str, Any], event: str) -> bool:
    """Only a new restart or OOM kill of the serving container matters to the model policy."""
    statuses = [c for c in pod.get("status", {}).get("containerStatuses", []) if c.get("name") == "server"]
    health = (sum(int(c.get("restartCount", 0)) for c in statuses),
              any((c.get(k) or {}).get("terminated", {}).get("reason") == "OOMKilled" for c in statuses for k in ("state", "lastState")))
    key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
    if event == "DELETED":
        _pod_health.pop(key, None)
        return False
    changed = _pod_health.get(key, (0, False)) != health
    _pod_health[key] = health
    return changed


def on_child_event(event: str, plural: str, obj: dict[str, Any]) -> None:
    """A child changed (drift, readiness, a failing model): its site is reconciled, storms coalesce."""
    if event == "ADDED" and plural != "pods":
        return  # a child the operator just created: nothing to correct
    if plural == "pods" and not pod_health_changed(obj, event):
        return
    meta = obj.get("metadata", {})
    site = meta.get("labels", {}).get(SITE_LABEL)
    if not site:
        return
    request_pass((meta["namespace"], site))


_node_snapshot: dict[str, tuple[Any, ...]] = {}


@kopf.on.event("v1", "nodes", id="node-changes")
def on_node(name: str, body: kopf.Body, type: str | None, **_: Any) -> None:
    """A node that turns Ready or NotReady, is cordoned, is relabelled, appears, disappears or changes
    capacity re-evaluates every site (heartbeats change nothing that matters and are ignored)."""
    remember_kopf_context()
    status = body.get("status", {})
    snapshot = (any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])),
                bool(body.get("spec", {}).get("unschedulable")), tuple(sorted(status.get("allocatable", {}).items())),
                tuple(sorted(body.get("metadata", {}).get("labels", {}).items())))
    before = _node_snapshot.pop(name, None) if type == "DELETED" else _node_snapshot.get(name)
    if type != "DELETED":
        if before == snapshot:
            return
        _node_snapshot[name] = snapshot
        if before is None and type is None:
            return  # first seen in kopf's start-up listing: every site gets its own pass at start-up anyway
    for site in live_sites():
        request_pass((site["metadata"]["namespace"], site["metadata"]["name"]))


@kopf.on.delete(GROUP, VERSION, PLURAL, optional=True)
def on_delete(namespace: str, name: str, **_: Any) -> None:
    """Children go with the site through their owner references; the operator forgets its metrics and probe."""
    metrics.forget(namespace, name)
    prober().configure((namespace, name), None)
