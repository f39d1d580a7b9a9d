"""A test-only kopf operator: proves the operator fixtures reach the real API server, its watches and patches."""

import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: object) -> None:
    settings.persistence.finalizer = "edgesite.io/test-finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="test.edgesite.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="test.edgesite.io")
    settings.watching.server_timeout = 10


@kopf.on.create("edgesite.io", "v1alpha1", "edgesites")
def seen(name: str, logger: kopf.Logger, **_: object) -> None:
    logger.info(f"seen EdgeSite {name}")
