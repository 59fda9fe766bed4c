"""A variant: one system with one full set of parameters, a point of a suite's grid."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    """One system with one full set of parameters (a point of the suite's grid)."""

    system: str
    label: str
    params: dict = field(hash=False)

    @property
    def id(self) -> str:
        """A file-name-safe id: the label plus a short hash of the parameters."""
        digest = hashlib.sha256(json.dumps([self.system, self.params], sort_keys=True).encode()).hexdigest()[:8]
        slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.label.lower()).strip("-")
        return f"{slug}-{digest}"

    def describe(self) -> dict:
        return {"system": self.system, "label": self.label, "params": self.params, "id": self.id}
