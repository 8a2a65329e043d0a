"""Settings that callers may change: input limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Limits enforced before or while parsing, so hostile input cannot exhaust the machine.

    The defaults admit the largest real records seen (Synthea bundles of about 60 MB).
    """

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(
        512 * 1024 * 1024, gt=0, description="Largest input, bytes (after decompression)"
    )
    max_depth: int = Field(64, gt=0, description="Deepest JSON nesting")
    max_resources_per_patient: int = Field(500_000, gt=0)


DEFAULT_LIMITS = Limits()
