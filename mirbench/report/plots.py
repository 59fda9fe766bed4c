"""Report figures, rendered deterministically (no timestamps or version strings in the PNG)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from mirbench.report.cells import variant_name, varying_params


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


def panels(n: int, height: float):
    """A figure of `n` panels, three to a row (matplotlib on the Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, height * rows), squeeze=False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def save(fig, path: Path, title: str) -> Path:
    """Title, lay out and write the PNG without metadata that would change between runs."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def plot_confusions(matrices: dict[str, tuple[list[str], np.ndarray]], path: Path, title: str) -> Path | None:
    """One panel per variant: row-normalised confusion (true class in rows), counts in the cells."""
    if not matrices:
        return None
    fig, axes = panels(len(matrices), height=4.4)
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
    return save(fig, path, title)


def order_by_dominant_frequency(spectra) -> np.ndarray:
    """Filter indices sorted by the frequency bin of each filter's largest magnitude, low to high (ties by index)."""
    s = np.asarray(spectra, dtype=np.float64)
    return np.argsort(np.argmax(s, axis=1), kind="stable")


def normalised_spectra(spectra) -> np.ndarray:
    """Each filter's spectrum scaled to a maximum of 1 and ordered by dominant frequency: (bins, filters)."""
    s = np.asarray(spectra, dtype=np.float64)
    s = s / np.where(s.max(axis=1, keepdims=True) > 0, s.max(axis=1, keepdims=True), 1.0)
    return s[order_by_dominant_frequency(s)].T


def has_filter_spectra(record: dict) -> bool:
    """Whether a trial's system reported the spectra of its filters (a non-empty `filter_spectra` diagnostic)."""
    return bool(((record.get("diagnostics") or {}).get("filter_spectra") or {}).get("spectra"))


def filter_spectra_by_variant(records: list[dict]) -> dict[str, dict]:
    """Per variant, the `filter_spectra` diagnostic of its first trial (smallest fold, then seed)."""
    ok = [r for r in records if r.get("status") == "ok" and has_filter_spectra(r)]
    varying = varying_params(ok)  # named by what differs between the panels, not the whole suite
    out: dict[str, dict] = {}
    for r in sorted(ok, key=lambda r: (r["fold"]["index"], r["seed"], r["trial_id"])):
        out.setdefault(variant_name(r["variant"], varying), r["diagnostics"]["filter_spectra"])
    return dict(sorted(out.items()))


def plot_filter_spectra(records: list[dict], path: Path, title: str) -> Path | None:
    """One panel per variant: normalised magnitude spectra of the first-layer filters, ordered by dominant
    frequency (Dieleman & Schrauwen 2014, Figure 2); None when no trial reports them."""
    spectra = filter_spectra_by_variant(records)
    if not spectra:
        return None
    fig, axes = panels(len(spectra), height=3.8)
    for ax, (name, diag) in zip(axes.flat, spectra.items()):
        image = normalised_spectra(diag["spectra"])
        nyquist = diag["sample_rate"] / 2
        half_bin = nyquist / max(image.shape[0] - 1, 1) / 2  # bins run from 0 to the Nyquist frequency inclusive
        ax.imshow(image, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest",
                  extent=(-0.5, image.shape[1] - 0.5, -half_bin, nyquist + half_bin))
        ax.set_ylim(0, nyquist)
        ax.set_title(textwrap.fill(name, 48), fontsize=8)
        ax.set_xlabel("filter (by dominant frequency)", fontsize=8)
        ax.set_ylabel("frequency (Hz)", fontsize=8)
        ax.tick_params(labelsize=7)
    return save(fig, path, title)
