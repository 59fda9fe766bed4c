"""FMA, the Free Music Archive dataset: genre_top classification on the official split.

`FMADataset` ("fma") indexes a user's copy; `FMASmall`, `FMAMedium` and
`FMATop10` ("fma-small", "fma-medium", "fma-top10") are the published protocols.
"""

from mirbench.datasets.fma.dataset import KNOWN_EMPTY, FMADataset
from mirbench.datasets.fma.protocols import DatasetMismatch, FMAMedium, FMAOfficialSplit, FMASmall, FMATop10

__all__ = ["FMADataset", "FMAOfficialSplit", "FMASmall", "FMAMedium", "FMATop10", "DatasetMismatch", "KNOWN_EMPTY"]
