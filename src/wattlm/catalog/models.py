"""The model catalogue: parameters, training tokens and the architecture figures inference needs.

Data: ``catalog/data/models.csv`` (each row names its source). Blank cells are figures that are
not published or not known to us; they stay ``None`` rather than being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattlm._caches import cached
from wattlm.catalog._lookup import NameIndex, aliases, optional_float, read_rows
from wattlm.errors import DataError

__all__ = ["Model", "get_model", "list_models"]


@dataclass(frozen=True)
class Model:
    """One language model.

    Attributes:
        name: canonical name, e.g. ``"Llama-2-70B"``.
        family: model family.
        params: total parameters (a count, not billions).
        active_params: parameters used per token (differs from ``params`` for mixture-of-experts).
        training_tokens: pre-training tokens where published.
        layers: transformer blocks (per stack for encoder-decoder models).
        hidden_size: model width.
        attention_heads: query heads.
        kv_heads: key/value heads (``None`` for latent attention, MLA).
        head_dim: size of one head.
        context_length: maximum sequence length.
        experts: routed experts per MoE layer.
        experts_per_token: routed experts each token uses.
        architecture: ``"dense"``, ``"moe"``, ``"hybrid"`` (Mamba + attention) or
            ``"encoder-decoder"``.
        attention_layers: layers with attention in a hybrid model (``None``: every layer).
        sliding_window: window (tokens) of the local-attention layers, if any.
        full_attention_layers: layers with full (global) attention when others use the window.
        kv_lora_rank: latent KV size per token and layer of multi-head latent attention (MLA).
        rope_head_dim: decoupled RoPE key size per token and layer of MLA.
        training_hardware: the accelerator the model was trained on (publications: GPT-3 V100,
            LLaMA / Llama 2 / BLOOM / OPT A100, Llama 3.x and 4 H100, T5 / Gopher TPU v3,
            PaLM TPU v4), ``None`` if not published.
        aliases: other names, including Hugging Face repository ids.
        source: where the figures come from.
    """

    name: str
    family: str
    params: float
    active_params: float
    training_tokens: float | None
    layers: int | None
    hidden_size: int | None
    attention_heads: int | None
    kv_heads: int | None
    head_dim: int | None
    context_length: int | None
    experts: int | None
    experts_per_token: int | None
    aliases: tuple[str, ...]
    source: str
    architecture: str = "dense"
    attention_layers: int | None = None
    sliding_window: int | None = None
    full_attention_layers: int | None = None
    kv_lora_rank: int | None = None
    rope_head_dim: int | None = None
    training_hardware: str | None = None

    @property
    def is_moe(self) -> bool:
        """Whether the model is a mixture of experts."""
        return bool(self.experts)


def _num(row: dict[str, str], key: str) -> float | None:
    return optional_float(row, key, "models.csv")


def _int(row: dict[str, str], key: str) -> int | None:
    value = _num(row, key)
    return None if value is None else int(value)


def _parse(row: dict[str, str]) -> Model:
    params = _num(row, "params")
    if params is None:
        raise DataError(f"models.csv: {row.get('name')!r} has no params")
    active = _num(row, "active_params") or params
    return Model(
        name=row["name"], family=row["family"], params=params, active_params=active,
        training_tokens=_num(row, "training_tokens"), layers=_int(row, "layers"),
        hidden_size=_int(row, "hidden_size"), attention_heads=_int(row, "attention_heads"),
        kv_heads=_int(row, "kv_heads"), head_dim=_int(row, "head_dim"),
        context_length=_int(row, "context_length"), experts=_int(row, "experts"),
        experts_per_token=_int(row, "experts_per_token"),
        aliases=aliases(row),
        source=row["source"],
        architecture=(row.get("architecture") or ("moe" if row.get("experts") else "dense")),
        attention_layers=_int(row, "attention_layers"),
        sliding_window=_int(row, "sliding_window"),
        full_attention_layers=_int(row, "full_attention_layers"),
        kv_lora_rank=_int(row, "kv_lora_rank"),
        rope_head_dim=_int(row, "rope_head_dim"),
        training_hardware=row.get("training_hardware") or None,
    )


@cached
def _index() -> NameIndex[Model]:
    items = [_parse(r) for r in read_rows("models.csv")]
    return NameIndex(items, lambda m: (m.name, *m.aliases), lambda m: m.name, "model")


def get_model(name: str) -> Model:
    """Look up a model by name, alias or Hugging Face id, forgivingly (``"gpt3"`` -> GPT-3).

    Raises:
        UnknownNameError: nothing matches; the message suggests the closest names.
    """
    return _index().get(name)


def list_models(query: str | None = None) -> list[Model]:
    """Every model, or those whose name or an alias contains ``query``."""
    return _index().search(query)
