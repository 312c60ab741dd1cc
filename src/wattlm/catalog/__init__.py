"""Reference catalogues: hardware (accelerators, CPUs) and language models.

Packaged CSVs loaded lazily on first use, looked up forgivingly with "did you mean".
"""

from wattlm.catalog.hardware import PRECISIONS, Hardware, get_hardware, list_hardware
from wattlm.catalog.models import Model, get_model, list_models

__all__ = [
    "PRECISIONS",
    "Hardware",
    "Model",
    "get_hardware",
    "get_model",
    "list_hardware",
    "list_models",
]
