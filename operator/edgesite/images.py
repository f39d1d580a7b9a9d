"""The one table of default images, pinned, with what the renderer needs to run each of them.

Each entry was checked against the program's own documentation for its command line, port, health
endpoint and user; `docs/images.md` explains every choice. Components override the image with their
`image` field; the rest of the entry (port, probes, user) still applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import __version__


@dataclass(frozen=True)
class Image:
    """A pinned image and how to run it."""

    ref: str
    user: int
    port: int
    liveness: str | None = None
    readiness: str | None = None


OWN = f"ghcr.io/edgesite/edgesite:{__version__}"

IMAGES: dict[str, Image] = {
    # llama.cpp's own server image; /health answers 503 while the model loads, 200 when ready.
    "llamacpp-cpu": Image("ghcr.io/ggml-org/llama.cpp:server-b6550", user=65532, port=8080, liveness="/health", readiness="/health"),
    "llamacpp-gpu": Image("ghcr.io/ggml-org/llama.cpp:server-cuda-b6550", user=65532, port=8080, liveness="/health", readiness="/health"),
    # OpenVINO Model Server serves ONNX and TFLite models on CPU with the KServe v2 REST API.
    "onnxruntime-cpu": Image("openvino/model_server:2025.3", user=5000, port=8000, liveness="/v2/health/live", readiness="/v2/health/ready"),
    "tflite-cpu": Image("openvino/model_server:2025.3", user=5000, port=8000, liveness="/v2/health/live", readiness="/v2/health/ready"),
    # NVIDIA Triton runs ONNX models on CUDA (onnxruntime backend), same KServe v2 REST API.
    "onnxruntime-gpu": Image("nvcr.io/nvidia/tritonserver:25.08-py3", user=1000, port=8000, liveness="/v2/health/live", readiness="/v2/health/ready"),
    # OVMS also targets GPUs (Intel) with --target_device GPU; TFLite has no CUDA server.
    "tflite-gpu": Image("openvino/model_server:2025.3-gpu", user=5000, port=8000, liveness="/v2/health/live", readiness="/v2/health/ready"),
    "mosquitto": Image("eclipse-mosquitto:2.0.22", user=1883, port=1883),
    "nginx": Image("nginxinc/nginx-unprivileged:1.28.0-alpine", user=101, port=8080, liveness="/healthz", readiness="/healthz"),
    "registry": Image("registry:2.8.3", user=1000, port=5000, liveness="/", readiness="/"),
    "fetch": Image("curlimages/curl:8.16.0", user=100, port=0),
    "gateway": Image(OWN, user=65532, port=9100, liveness="/healthz", readiness="/healthz"),
    "y-websocket": Image(OWN, user=65532, port=1234, liveness=None, readiness=None),
}


def image(key: str) -> Image:
    """The default image entry for `key` (`<runtime>-<cpu|gpu>`, `mosquitto`, `nginx`, ...)."""
    return IMAGES[key]
