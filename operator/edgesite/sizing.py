"""Model memory estimates: weights, KV cache for the context, and the runtime's own overhead.

Shared by the renderer (resources derived when the user gives none) and lint (model fit). Figures are
estimates for current decoder models with grouped-query attention (Llama 3, Qwen 2.5, Mistral), on the
conservative side; the docs page of the `model-memory-fit` rule explains them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Inference, ModelRef

BITS_PER_WEIGHT = {
    "f32": 32.0, "fp32": 32.0, "f16": 16.0, "fp16": 16.0, "bf16": 16.0, "int8": 8.0, "uint8": 8.0, "int4": 4.0,
    "q8_0": 8.5, "q6_k": 6.56, "q5_k_m": 5.69, "q5_k_s": 5.54, "q5_0": 5.5, "q4_k_m": 4.85, "q4_k_s": 4.58,
    "q4_0": 4.55, "q3_k_m": 3.91, "q3_k_s": 3.5, "q2_k": 3.35, "iq4_xs": 4.25, "iq3_xxs": 3.06, "iq2_xxs": 2.06,
}
# Largest first: what lint suggests when a model does not fit.
GGUF_BY_SIZE = ("f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "q3_k_m", "q2_k", "iq2_xxs")
TENSOR_BY_SIZE = ("fp32", "fp16", "int8", "int4")

DEFAULT_CONTEXT_TOKENS = 4096
RUNTIME_OVERHEAD_MIB = {"llamacpp": 320.0, "onnxruntime": 384.0, "tflite": 256.0}
# ONNX Runtime and TFLite hold the weights once more in their arena while building the session.
WEIGHT_FACTOR = {"llamacpp": 1.0, "onnxruntime": 2.0, "tflite": 1.5}
# KV cache MiB per token of context (f16 K and V) by parameter count in billions (GQA models).
_KV_MIB_PER_TOKEN = ((1.5, 0.03125), (4.0, 0.109), (9.0, 0.125), (15.0, 0.16), (35.0, 0.25), (float("inf"), 0.3125))
HEADROOM = 1.1


@dataclass(frozen=True)
class MemoryEstimate:
    """MiB needed by one replica, by part."""

    weights: float
    kv_cache: float
    overhead: float

    @property
    def total(self) -> float:
        return (self.weights + self.kv_cache + self.overhead) * HEADROOM


def parameters_billions(model: ModelRef) -> float:
    """Parameter count implied by the file size and the bits per weight."""
    return model.size_mib * 2**20 * 8 / BITS_PER_WEIGHT[model.quantization] / 1e9


def kv_cache_mib(model: ModelRef, context_tokens: int) -> float:
    """KV cache of a GQA decoder for `context_tokens` tokens."""
    params = parameters_billions(model)
    per_token = next(mib for limit, mib in _KV_MIB_PER_TOKEN if params <= limit)
    return per_token * context_tokens


def estimate(runtime: str, model: ModelRef, context_tokens: int | None = None) -> MemoryEstimate:
    """Memory one replica of `runtime` needs to serve `model`."""
    kv = kv_cache_mib(model, context_tokens or DEFAULT_CONTEXT_TOKENS) if runtime == "llamacpp" else 0.0
    return MemoryEstimate(weights=model.size_mib * WEIGHT_FACTOR[runtime], kv_cache=kv, overhead=RUNTIME_OVERHEAD_MIB[runtime])


def with_quantization(model: ModelRef, quantization: str) -> ModelRef:
    """The same model at another quantization (its size scaled by bits per weight)."""
    size = model.size_mib * BITS_PER_WEIGHT[quantization] / BITS_PER_WEIGHT[model.quantization]
    return model.model_copy(update={"quantization": quantization, "size_mib": size})


def inference_memory_mib(entry: Inference, *, fallback: bool = False) -> float:
    """Memory of one replica of an inference entry, primary or fallback model."""
    model = entry.fallback.model if fallback and entry.fallback else entry.model
    return estimate(entry.runtime, model, entry.context_tokens).total
