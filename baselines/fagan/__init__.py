"""The GTZAN deep-learning study (Fagan): a zoo of 1D/2D CNNs, GAP heads, all-convolutional nets, AlexNet/VGG16,
SampleCNN and LSTM/GRU hybrids on 3 s segments.

Modules: `blocks` (conv blocks, heads, the network shell, initialisation),
one per family (`cnn`, `imagenet`, `samplecnn`, `recurrent`), and `system`
(the registered systems `fagan.<family>`).
"""

from mirbench_baselines.fagan.system import (
    FaganAlexNet,
    FaganCNN1D,
    FaganCNN2D,
    FaganLSTM,
    FaganNetwork,
    FaganRCNN,
    FaganSampleCNN,
    FaganVGG16,
)

__all__ = [
    "FaganAlexNet", "FaganCNN1D", "FaganCNN2D", "FaganLSTM", "FaganNetwork", "FaganRCNN", "FaganSampleCNN", "FaganVGG16",
]  # fmt: skip
