"""Report figures, rendered deterministically (no timestamps or version strings in the PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mirbench.report.table import variant_name, varying_params


def confusion_by_variant(records: list[dict]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Confusion matrices summed over folds and seeds, per variant, for single-label trials."""
    ok = [r for r in records if r.get("status") == "ok" and r.get("confusion")]
    varying = varying_params(ok)
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for r in ok:
        name = variant_name(r["variant"], varying)
        m = np.asarray(r["confusion"], dtype=np.int64)
        classes, total = out.get(name, (r["dataset"]["classes"], np.zeros_like(m)))
        out[name] = (classes, total + m)
    return dict(sorted(out.items()))


def plot_confusions(matrices: dict[str, tuple[list[str], np.ndarray]], path: Path, title: str) -> Path | None:
    """One panel per variant: row-normalised confusion (true class in rows), counts in the cells."""
    if not matrices:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(matrices)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.4 * rows), squeeze=False)
    for ax, (name, (classes, m)) in zip(axes.flat, matrices.items()):
        norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path
