"""Model geometry for the inference roofline: what is read and computed per token.

A :class:`Geometry` comes from one of three places, in this order of trust:

1. a Hugging Face ``config.json`` the user passes (:func:`geometry_from_config`; read locally,
   never downloaded);
2. the model catalogue (:func:`geometry_from_model`, ``catalog/data/models.csv``);
3. the parameter count alone (:func:`geometry_from_params`): a dense decoder of the
   Llama/Mistral aspect (``N ~ 12 L d^2``, ``d = 128 L``) with a quarter of the heads for K/V.
   A mixture of experts known only by ``params`` and ``active_params`` has unknown experts, so
   its weight reads per step are bounded between the active weights and all weights
   (``moe_bounds``), which widens the estimate's range.

Units: parameters are counts, sizes are elements (multiply by bytes per element), tokens are
counts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wattlm._validate import read_text
from wattlm.errors import DataError, InvalidInputError

__all__ = [
    "Geometry",
    "geometry_from_config",
    "geometry_from_model",
    "geometry_from_params",
    "moe_unique_experts",
]


@dataclass(frozen=True)
class Geometry:
    """What the roofline needs to know about a model.

    Attributes:
        name: catalogue or config name (``None`` for a bare parameter count).
        params: total parameters.
        active_params: parameters each token passes through.
        layers: decoder layers.
        hidden: model width ``d``.
        heads: query heads.
        kv_heads: key/value heads (0 for multi-head latent attention).
        head_dim: size of one head.
        attention_layers: layers with attention (fewer than ``layers`` in hybrid Mamba models).
        full_attention_layers: attention layers that see the whole context; the others see at
            most ``sliding_window`` tokens.
        sliding_window: local-attention window in tokens (``None``: none).
        experts: routed experts per MoE layer (``None``: dense).
        experts_per_token: routed experts each token uses (top-k).
        expert_params: parameters of all routed experts together (0 for dense models).
        kv_lora_rank: MLA latent size per token and layer (``None``: ordinary attention).
        rope_head_dim: MLA decoupled RoPE key size per token and layer.
        architecture: ``dense``, ``moe``, ``hybrid`` or ``encoder-decoder``.
        source: ``config``, ``catalogue`` or ``estimated``.
        moe_bounds: experts unknown: weight reads are bounded, not computed.
        context_length: longest sequence the model takes, tokens (``None``: unknown).
    """

    name: str | None
    params: float
    active_params: float
    layers: int
    hidden: float
    heads: int
    kv_heads: int
    head_dim: int
    attention_layers: int
    full_attention_layers: int
    sliding_window: int | None
    experts: int | None
    experts_per_token: int | None
    expert_params: float
    kv_lora_rank: int | None
    rope_head_dim: int | None
    architecture: str
    source: str
    moe_bounds: bool = False
    context_length: int | None = None

    @property
    def is_moe(self) -> bool:
        """Whether weight reads depend on which experts the batch touches."""
        return bool(self.experts) or self.moe_bounds

    @property
    def attention_dim(self) -> float:
        """Query heads x head size (elements per token and layer of Q)."""
        return float(self.heads * self.head_dim)

    def kv_elements_per_token_layer(self) -> float:
        """Cached elements per token and attention layer: 2 kv_heads head_dim (MLA: rank+RoPE)."""
        if self.kv_lora_rank:
            return float(self.kv_lora_rank + (self.rope_head_dim or 0))
        return 2.0 * self.kv_heads * self.head_dim

    def kv_elements_per_sequence(self, context: float) -> float:
        """KV-cache elements of one sequence of ``context`` tokens, sliding windows applied."""
        per = self.kv_elements_per_token_layer()
        local = self.attention_layers - self.full_attention_layers
        window = min(context, float(self.sliding_window)) if self.sliding_window else context
        return per * (self.full_attention_layers * context + local * window)

    def attended_tokens(self, context: float) -> float:
        """Sum over attention layers of the tokens each attends to (for attention FLOPs)."""
        local = self.attention_layers - self.full_attention_layers
        window = min(context, float(self.sliding_window)) if self.sliding_window else context
        return self.full_attention_layers * context + local * window

    def expert_weights_touched(self, tokens: float) -> float:
        """Expected parameters of routed experts read for ``tokens`` tokens in one step."""
        if not self.experts or not self.experts_per_token:
            return 0.0
        share = moe_unique_experts(self.experts, self.experts_per_token, tokens) / self.experts
        return self.expert_params * share


def moe_unique_experts(experts: int, experts_per_token: int, tokens: float) -> float:
    """Expected distinct experts per layer that ``tokens`` tokens reach.

    Each token picks ``k`` of ``E`` experts (independent, uniform), so an expert is missed by all
    tokens with probability ``(1 - k/E)^tokens``: ``E (1 - (1 - k/E)^tokens)``.
    """
    if experts <= 0 or not 0 < experts_per_token <= experts:
        raise InvalidInputError(
            f"need 0 < experts_per_token <= experts, got {experts_per_token} of {experts}")
    return float(experts * (1.0 - (1.0 - experts_per_token / experts) ** max(tokens, 0.0)))


def _dense_shape(active_params: float) -> tuple[int, float, int, int, int]:
    """(layers, hidden, heads, kv_heads, head_dim) of a Llama-aspect dense decoder."""
    hidden = (active_params / 0.09375) ** (1.0 / 3.0)
    layers = max(1, round(hidden / 128.0))
    heads = max(1, round(hidden / 128.0))
    return layers, hidden, heads, max(1, heads // 4), 128


def geometry_from_params(params: float, active_params: float | None = None,
                         name: str | None = None) -> Geometry:
    """Geometry estimated from the parameter count (``source="estimated"``)."""
    active = float(active_params if active_params is not None else params)
    if active > params:
        raise InvalidInputError(
            f"active_params ({active:g}) cannot exceed params ({float(params):g})")
    layers, hidden, heads, kv_heads, head_dim = _dense_shape(active)
    moe = active < params
    return Geometry(name, float(params), active, layers, hidden, heads, kv_heads, head_dim,
                    layers, layers, None, None, None, float(params) - active if moe else 0.0,
                    None, None, "moe" if moe else "dense", "estimated", moe_bounds=moe)


def geometry_from_model(model: Any, params: float | None = None,
                        active_params: float | None = None) -> Geometry:
    """Geometry of a catalogue :class:`~wattlm.catalog.models.Model` (given counts override)."""
    total = float(params if params is not None else model.params)
    active = float(active_params if active_params is not None else
                   (model.active_params if params is None else total))
    heads = model.attention_heads
    head_dim = model.head_dim or (model.hidden_size // heads if model.hidden_size and heads
                                  else None)
    mla = bool(model.kv_lora_rank)
    if not (model.layers and heads and head_dim and model.hidden_size) and not mla:
        return replace(geometry_from_params(total, active, model.name),
                       context_length=model.context_length)
    e, k = model.experts, model.experts_per_token
    expert_params = (total - active) * e / (e - k) if e and k and e > k else 0.0
    attn = model.attention_layers or model.layers
    full = model.full_attention_layers or attn
    return Geometry(
        model.name, total, active, model.layers, float(model.hidden_size), int(heads),
        0 if mla else int(model.kv_heads or heads), int(head_dim or 128), int(attn), int(full),
        model.sliding_window, e, k, expert_params, model.kv_lora_rank, model.rope_head_dim,
        model.architecture, "catalogue", context_length=model.context_length)


_LAYERS_KEYS = ("num_hidden_layers", "n_layer", "num_layers")
_HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model")


def _first(cfg: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    return None


def _whole(cfg: dict[str, Any], key: str, where: str, default: int | None = None) -> int | None:
    value = cfg.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
            or not math.isfinite(float(value)) or int(value) != value:
        raise InvalidInputError(f"{where}: {key} must be a whole number >= 0, got {value!r}")
    return int(value)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long: read_text says so in one line
        return True


def _load_config(path: str | Path) -> tuple[dict[str, Any], str]:
    where = str(path)
    if not _exists(Path(path)):
        raise InvalidInputError(f"config: no such file {where!r} (give the path of a Hugging "
                                "Face config.json)")
    source = read_text(path, "config")  # a directory, binary or non-UTF-8 file: one line
    try:
        raw = json.loads(source)
    except json.JSONDecodeError as e:
        raise DataError(f"config {where!r} is not readable JSON: {e}") from e
    if not isinstance(raw, dict):
        raise DataError(f"config {where!r} is not a model config (a JSON object is expected)")
    cfg = dict(raw)
    text = raw.get("text_config")
    if isinstance(text, dict):  # multimodal models (Gemma 3, Llama 4) keep the LM inside
        cfg = {**raw, **text}
    if _first(cfg, _LAYERS_KEYS) is None or _first(cfg, _HIDDEN_KEYS) is None:
        raise DataError(
            f"config {where!r} is not a model config: it has no num_hidden_layers/hidden_size "
            "(pass a Hugging Face model's config.json)")
    return cfg, where


def _attention_layout(cfg: dict[str, Any], layers: int) -> tuple[int, int, int | None]:
    """(attention layers, full-attention layers, sliding window) from the config's pattern keys."""
    pattern = cfg.get("hybrid_override_pattern")
    attention = pattern.count("*") if isinstance(pattern, str) and pattern else layers
    window = cfg.get("sliding_window") if isinstance(cfg.get("sliding_window"), int) else None
    types = cfg.get("layer_types")
    if isinstance(types, list) and types:
        full = sum(1 for t in types if str(t) == "full_attention")
        if window and full < len(types):
            return attention, full, window
        return attention, attention, None
    every = cfg.get("sliding_window_pattern")
    if window and isinstance(every, int) and every > 1:
        return attention, layers // every, window
    return attention, attention, None


def _param_counts(cfg: dict[str, Any], g: dict[str, Any]) -> tuple[float, float, float]:
    """(total, active, routed-expert) parameters counted from the config's shapes."""
    d, layers = g["hidden"], g["layers"]
    vocab = float(cfg.get("vocab_size") or 0)
    embed = vocab * d * (1 if cfg.get("tie_word_embeddings", False) else 2)
    if g["kv_lora_rank"]:
        rope, nope = g["rope_head_dim"] or 0, cfg.get("qk_nope_head_dim") or g["head_dim"]
        v_dim, q_rank = cfg.get("v_head_dim") or g["head_dim"], cfg.get("q_lora_rank")
        q = (d * q_rank + q_rank * g["heads"] * (nope + rope)) if q_rank else \
            d * g["heads"] * (nope + rope)
        kv = d * (g["kv_lora_rank"] + rope) + g["kv_lora_rank"] * g["heads"] * (nope + v_dim)
        attn = q + kv + g["heads"] * v_dim * d
    else:
        attn = d * g["head_dim"] * (2 * g["heads"] + 2 * g["kv_heads"])
    inter = float(cfg.get("intermediate_size") or 4 * d)
    dense_mlp = 3.0 * d * inter
    e, k = g["experts"], g["experts_per_token"]
    if not e:
        mamba = (layers - g["attention_layers"]) * 3.0 * d * 2 * d if g["hybrid"] else 0.0
        mlp_layers = layers if not g["hybrid"] else layers - g["attention_layers"]
        total = embed + g["attention_layers"] * attn + mlp_layers * dense_mlp + mamba
        return total, total, 0.0
    moe_inter = float(cfg.get("moe_intermediate_size") or inter)
    first_dense = int(cfg.get("first_k_dense_replace") or 0)
    step = int(cfg.get("interleave_moe_layer_step") or 1)
    moe_layers = max(0, (layers - first_dense) // max(step, 1))
    shared = float(cfg.get("n_shared_experts") or 0) * 3.0 * d * moe_inter
    shared += 3.0 * d * float(cfg.get("shared_expert_intermediate_size") or 0)
    experts = moe_layers * e * 3.0 * d * moe_inter
    base = embed + layers * attn + (layers - moe_layers) * dense_mlp + moe_layers * (shared + d * e)
    return base + experts, base + experts * k / e, experts


def geometry_from_config(path: str | Path) -> Geometry:
    """Geometry from a local Hugging Face ``config.json`` (``text_config`` inside is used).

    Raises:
        InvalidInputError: the file does not exist, or a shape value is not a whole number.
        DataError: not JSON, or not a model config (no layers / hidden size).
    """
    cfg, where = _load_config(path)
    layers = _whole(cfg, next(k for k in _LAYERS_KEYS if cfg.get(k) is not None), where) or 0
    hidden = _whole(cfg, next(k for k in _HIDDEN_KEYS if cfg.get(k) is not None), where) or 0
    heads = _whole(cfg, "num_attention_heads", where) or max(1, hidden // 128)
    experts = None
    for key in ("num_experts", "num_local_experts", "n_routed_experts"):
        experts = experts or _whole(cfg, key, where)
    top_k = _whole(cfg, "num_experts_per_tok", where)
    if experts and not top_k:
        raise InvalidInputError(
            f"{where}: {experts} experts but no num_experts_per_tok (top-k); a mixture-of-"
            "experts config needs both")
    attention, full, window = _attention_layout(cfg, layers)
    mla = _whole(cfg, "kv_lora_rank", where)
    g: dict[str, Any] = {
        "layers": layers, "hidden": hidden, "heads": heads,
        "kv_heads": 0 if mla else (_whole(cfg, "num_key_value_heads", where) or heads),
        "head_dim": _whole(cfg, "head_dim", where) or (hidden // heads if heads else 128),
        "experts": experts, "experts_per_token": top_k, "kv_lora_rank": mla,
        "rope_head_dim": _whole(cfg, "qk_rope_head_dim", where),
        "attention_layers": attention, "hybrid": attention < layers,
    }
    total, active, expert_params = _param_counts(cfg, g)
    arch = "hybrid" if g["hybrid"] else ("moe" if experts else (
        "encoder-decoder" if cfg.get("is_encoder_decoder") else "dense"))
    name = cfg.get("_name_or_path") or cfg.get("model_type")
    return Geometry(str(name) if name else None, total, active, layers, float(hidden), heads,
                    g["kv_heads"], g["head_dim"], attention, min(full, attention), window,
                    experts, top_k, expert_params, mla, g["rope_head_dim"], arch, "config",
                    context_length=_whole(cfg, "max_position_embeddings", where) or None)
