"""The `edgesite` command: render, validate, crd, images (and the long-running operator, gateway and sync).

Input problems are printed one per line as `FILE:LINE: SITE: path: message`, exit code 1; usage errors
exit 2 (click's convention). No traceback is shown for bad input, and nothing is written unless every
input is valid.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import __version__
from .crd import custom_resource_definition
from .model import EdgeSite
from .output import k3s_files, kustomize_files, to_yaml, write_files, write_folder
from .plan import MODES, Plan
from .render import images_of, render
from .validation import EdgeSiteError, load_sites

STDIN = "-"


def read_inputs(paths: Iterable[str]) -> list[tuple[str, str]]:
    inputs = []
    for path in paths:
        if path == STDIN:
            inputs.append(("<stdin>", sys.stdin.read()))
        else:
            try:
                inputs.append((path, Path(path).read_text()))
            except UnicodeDecodeError:
                raise click.BadParameter(f"{path}: not a UTF-8 text file", param_hint="FILE") from None
    return inputs


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the tool's own errors into messages on stderr and exit code 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EdgeSiteError as error:
            click.echo(str(error), err=True)
            sys.exit(1)

    return wrapper


def sites_from(files: tuple[str, ...]) -> list[EdgeSite]:
    return load_sites(read_inputs(files))


FILES = click.argument("files", nargs=-1, required=True,
                       type=click.Path(exists=True, dir_okay=False, allow_dash=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgesite")
def main() -> None:
    """Turn EdgeSite descriptions into K3s sites, and keep them useful when they degrade."""


@main.command("render")
@FILES
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path),
              help="Write one file per object into this folder (plus kustomization.yaml) instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "kustomize", "k3s"]), default=None,
              help="yaml: a stream on stdout (default without -o); kustomize: a kustomize folder (default with -o); "
                   "k3s: a K3s auto-deploy manifests folder plus registries.yaml.")
@click.option("--mode", type=click.Choice(MODES), default="Online", show_default=True,
              help="Render the site as the operator would in this mode.")
@reports_errors
def render_command(files: tuple[str, ...], output: Path | None, fmt: str | None, mode: str) -> None:
    """Render the K3s manifests of every site in FILES (- for stdin)."""
    sites = sites_from(files)
    fmt = fmt or ("kustomize" if output else "yaml")
    if fmt != "yaml" and output is None:
        raise click.UsageError(f"--format {fmt} writes a folder: give it with -o DIR")
    rendered = [(site, render(site, Plan.for_mode(site, mode))) for site in sites]
    if fmt == "yaml":
        text = to_yaml(o for _, objects in rendered for o in objects)
        if output is None:
            click.echo(text, nl=False)
            return
    assert output is not None
    if fmt == "k3s":
        write_files(output, k3s_files(rendered))
    else:
        write_folder(output, kustomize_files([o for _, objects in rendered for o in objects]))
    click.echo(f"wrote {output}", err=True)


@main.command("validate")
@FILES
@reports_errors
def validate_command(files: tuple[str, ...]) -> None:
    """Check every site in FILES against the EdgeSite schema and its cross-field rules."""
    sites = sites_from(files)
    for site in sites:
        click.echo(f"{site.namespace}/{site.name}: valid")


@main.command("crd")
def crd_command() -> None:
    """Print the EdgeSite CustomResourceDefinition generated from the model."""
    click.echo(to_yaml([custom_resource_definition()]), nl=False)


@main.command("images")
@FILES
@reports_errors
def images_command(files: tuple[str, ...]) -> None:
    """List every image the sites in FILES can run, for pre-pulling into an air-gapped site."""
    found: set[str] = set()
    for site in sites_from(files):
        found |= images_of(site)
    for image in sorted(found):
        click.echo(image)


@main.command("lint")
@FILES
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@reports_errors
def lint_command(files: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check sites against edge anti-patterns, model fit, latency and bandwidth budgets."""
    from .lint import lint
    from .lint import formats
    from .validation import line_of_path, load_site_documents

    found = [(document.source, line_of_path(document, f.path), site.name, f)
             for site, document in load_site_documents(read_inputs(files)) for f in lint(site)]
    click.echo({"text": formats.text, "json": formats.as_json, "sarif": formats.sarif}[fmt](found), nl=False)
    failing = ("error", "warning") if strict else ("error",)
    if any(f.severity in failing for *_, f in found):
        sys.exit(1)


@main.command("gateway")
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The gateway configuration the renderer writes (ConfigMap <site>-gateway).")
def gateway_command(config: Path) -> None:
    """Aggregate sensor readings into windowed summaries (runs in the site's gateway pod)."""
    import logging

    from . import gateway

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    gateway.main(config)


@main.command("sync")
@click.option("--port", type=click.IntRange(1, 65535), default=1234, show_default=True, help="WebSocket port.")
@click.option("--store", "store", type=click.Path(dir_okay=False, path_type=Path), default=Path("documents.sqlite"),
              show_default=True, help="SQLite file that keeps every document (on the site's volume).")
def sync_command(port: int, store: Path) -> None:
    """Serve shared CRDT documents over the y-websocket protocol (runs in the site's sync pod)."""
    import logging

    try:
        from . import sync
    except ImportError as error:
        raise click.ClickException(f"edgesite sync needs the 'sync' extra: pip install 'edgesite[sync]' ({error})") from error

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sync.main(port, store)


@main.command("operator")
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Watch only these namespaces (repeatable); default: all.")
@click.option("--standalone/--peering", default=False, show_default=True,
              help="Standalone: act alone. Peering (default): replicas coordinate through kopf peering, so two never both act.")
@click.option("--priority", type=int, default=None,
              help="Peering priority: the live replica with the highest acts. Default: the replica started first.")
@click.option("--log-format", type=click.Choice(["plain", "full", "json"]), default="full", show_default=True)
@click.option("--verbose", is_flag=True, help="Debug logs.")
@click.option("--liveness", default="http://0.0.0.0:8080/healthz", show_default=True, help="Liveness endpoint URL; empty to disable.")
def operator_command(namespaces: tuple[str, ...], standalone: bool, priority: int | None, log_format: str, verbose: bool,
                     liveness: str) -> None:
    """Run the operator: reconcile EdgeSites into live sites (metrics on :8081/metrics)."""
    import os
    import socket

    import kopf

    from . import handlers  # registers the handlers
    from .peering import PEERING_NAME, Replica, startup_priority

    handlers.WATCHED_NAMESPACES[:] = list(namespaces)
    identity = f"{os.environ.get('POD_NAME') or socket.gethostname()}/{os.getpid()}"
    priority = startup_priority() if priority is None else priority
    if not standalone:
        handlers.REPLICA = Replica(lambda path: dict(handlers.kube().request("GET", path)), identity=identity,
                                   priority=priority, namespaces=list(namespaces))

    kopf.configure(verbose=verbose, log_format={"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL,
                                                "json": kopf.LogFormat.JSON}[log_format])
    kopf.run(standalone=standalone, priority=priority, peering_name=None if standalone else PEERING_NAME, identity=identity,
             namespaces=list(namespaces),
             clusterwide=not namespaces, liveness_endpoint=liveness or None)


if __name__ == "__main__":  # pragma: no cover
    main()
