"""Whether the host can feed a GPU: windows per second the host side delivers against what an H100 would consume.

`track_host_windows_per_second`: the host side of the feed a CUDA trial uses
where its training clips fit on the GPU (`mirbench.kit.prefetch.ResidentFeed`,
the case of every suite here): the positions of `CHUNK_WINDOWS` windows drawn
at once (`WindowIndex.next_chunk`, the trainer's own random draws) and put in
a page-locked buffer when CUDA is present; the GPU then cuts the windows from
the uploaded clips. `track_gathered_windows_per_second`: the fallback for clips
that do not fit, every window sliced on the host from a memory-mapped feature
file and stacked into a fresh batch buffer (`Windows.sample`, as the
prefetch thread does it; the copy to the GPU is left out without a GPU), at the
family's batch size. Both run on one thread, as the trainer's feed does; the
features are 200 30 s clips of noise per input.
`track_h100_windows_per_second_needed`: 40 % of an H100 SXM's dense bfloat16
peak, 989.4 TFLOP/s (NVIDIA H100 Tensor Core GPU datasheet, SXM5: 1,979
TFLOP/s bf16 "with sparsity", half of it dense), over three times the forward
FLOPs of one window (forward + backward), counted with
`torch.utils.flop_counter.FlopCounterMode` on the baseline's network at the
paper's size. `track_host_over_needed`: the first over the third.
"""

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.machine import best_seconds
from mirbench.kit.prefetch import CHUNK_WINDOWS, WindowIndex
from mirbench.kit.windows import Windows
from mirbench.registry import systems

H100_BF16_DENSE_FLOPS = 989.4e12  # H100 SXM5, dense bfloat16 (NVIDIA datasheet: 1,979 TFLOP/s with sparsity)
USED_SHARE = 0.4
CLIPS, CLIP_SECONDS, CLASSES = 200, 30.0, 10

# family -> (registered system, parameters at the paper's size, input name); inputs are shared between families
FAMILIES = {
    "choi-k1c2": ("choi2017.cnn", {"arch": "k1c2", "budget": 1_000_000}, "mel96-12k"),
    "choi-k2c1": ("choi2017.cnn", {"arch": "k2c1", "budget": 1_000_000}, "mel96-12k"),
    "choi-k2c2": ("choi2017.cnn", {"arch": "k2c2", "budget": 1_000_000}, "mel96-12k"),
    "choi-crnn": ("choi2017.cnn", {"arch": "crnn", "budget": 1_000_000}, "mel96-12k"),
    "dieleman-mel": ("dieleman2014.cnn", {"input": "mel"}, "mel128-16k"),
    "dieleman-raw": ("dieleman2014.cnn", {"input": "raw"}, "raw-16k"),
    "fagan-cnn1d": ("fagan.cnn1d", {}, "mel128-22k-hop256"),
    "fagan-cnn2d": ("fagan.cnn2d", {}, "mel128-22k-hop512"),
    "fagan-alexnet": ("fagan.alexnet", {}, "mel128-22k-hop512"),
    "fagan-vgg16": ("fagan.vgg16", {}, "mel128-22k-hop512"),
    "fagan-samplecnn": ("fagan.samplecnn", {}, "raw-22k"),
    "fagan-lstm": ("fagan.lstm", {}, "mel128-22k-hop256"),
    "fagan-rcnn": ("fagan.rcnn", {}, "mel128-22k-hop512"),
}
INPUTS = {  # one clip's cached feature shape: 30 s at the frontend's rate
    "mel96-12k": (1406, 96),  # 12 kHz, hop 256
    "mel128-16k": (1875, 128),  # 16 kHz, hop 256
    "raw-16k": (480_000,),
    "mel128-22k-hop256": (2584, 128),  # 22050 Hz, 512-sample frames, half hop
    "mel128-22k-hop512": (1292, 128),  # 22050 Hz, 1024-sample frames
    "raw-22k": (661_500,),
}


def system_for(family: str):
    name, params, _ = FAMILIES[family]
    return systems.get(name)(**params)


def window_source(system, clips) -> Windows:
    """The family's training windows over `clips`, as its `windows()` would cut them."""
    if hasattr(system, "architecture"):  # Dieleman
        arch = system.architecture(CLASSES)
        return Windows(clips, arch.frames, arch.stride, arch.length, raw=arch.input == "raw")
    if hasattr(system, "segment_frames"):  # the Fagan zoo
        return Windows(clips, system.segment_frames(), raw=system.raw, segments=True)
    return Windows(clips, int(system.window_frames))  # Choi


def forward_flops_per_window(system, source: Windows) -> float:
    """Forward FLOPs of one window through the family's network at its default (paper) size, in training mode."""
    shape = source.window_shape()
    model = system.build_network(CLASSES, Windows([np.zeros(shape, np.float32)], source.frames, source.stride,
                                                  source.length, raw=source.raw, segments=source.segments))
    model.train()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(2, *shape))
    return counter.get_total_flops() / 2


class HostFeed:
    params = [list(FAMILIES)]
    param_names = ("family",)
    version = 2
    timeout = 600

    def setup_cache(self):
        """One memory-mapped feature file per input, 200 clips of 30 s of noise, in asv's temporary directory."""
        root = Path(tempfile.mkdtemp(prefix="mirbench-hostfeed-"))
        rng = np.random.default_rng(0)
        for name, shape in INPUTS.items():
            data = np.lib.format.open_memmap(root / f"{name}.npy", "w+", np.float32, (CLIPS, *shape))
            for i in range(CLIPS):
                data[i] = rng.standard_normal(shape, dtype=np.float32)
            data.flush()
            del data
        return str(root)

    def setup(self, root, family):
        system = system_for(family)
        data = np.load(Path(root) / f"{FAMILIES[family][2]}.npy", mmap_mode="r")
        self.source = window_source(system, list(data))
        self.batch = int(system.batch_size)
        self.buffer_shape = (self.batch, *self.source.window_shape())
        self.pinned = torch.cuda.is_available()
        self.needed = USED_SHARE * H100_BF16_DENSE_FLOPS / (3 * forward_flops_per_window(system, self.source))
        self.rng = np.random.default_rng(0)
        self.index = WindowIndex(self.source, self.rng, self.batch, max(1, CHUNK_WINDOWS // self.batch))
        self.batches = max(1, 256 // self.batch)  # about 256 windows per timing of the gathered feed

    def _index(self):
        chunk = torch.from_numpy(self.index.next_chunk())
        if self.pinned:
            chunk.pin_memory()  # the page-locked copy a CUDA trial makes before sending it

    def _gather(self):
        for _ in range(self.batches):
            out = torch.empty(self.buffer_shape, dtype=torch.float32, pin_memory=self.pinned)
            self.source.sample(self.rng, self.batch, out=out.numpy())

    def host_windows_per_second(self) -> float:
        return self.index.chunk * self.batch / best_seconds(self._index, repeats=20)  # the best of 20 chunks

    def track_host_windows_per_second(self, root, family):
        return self.host_windows_per_second()

    track_host_windows_per_second.unit = "windows/s"

    def track_gathered_windows_per_second(self, root, family):
        return self.batches * self.batch / best_seconds(self._gather, repeats=3)

    track_gathered_windows_per_second.unit = "windows/s"

    def track_h100_windows_per_second_needed(self, root, family):
        return self.needed

    track_h100_windows_per_second_needed.unit = "windows/s"

    def track_host_over_needed(self, root, family):
        return self.host_windows_per_second() / self.needed

    track_host_over_needed.unit = "ratio"
