"""MagnaTagATune: the dataset ("mtat") and its two published protocols ("mtat-12-1-3", "mtat-cleaned").

See docs/datasets/mtat.md for the layout on disk, the protocols and their sizes.
"""

from mirbench.datasets.mtat.annotations import ANNOTATIONS, DIRECTORIES, N_ROWS, read_annotations, top_tags
from mirbench.datasets.mtat.dataset import KNOWN_BAD, LAYOUT, SAMPLE_RATE, MTATDataset
from mirbench.datasets.mtat.lists import PUBLISHED_SIZES, TAGS, TEST, VALID
from mirbench.datasets.mtat.protocols import MTAT1213, MTATCleaned

__all__ = [
    "ANNOTATIONS",
    "DIRECTORIES",
    "KNOWN_BAD",
    "LAYOUT",
    "MTAT1213",
    "MTATCleaned",
    "MTATDataset",
    "N_ROWS",
    "PUBLISHED_SIZES",
    "SAMPLE_RATE",
    "TAGS",
    "TEST",
    "VALID",
    "read_annotations",
    "top_tags",
]
