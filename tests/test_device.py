"""The accelerator: device and precision choice, pinned transfers, memory records, GPUs shared by workers.

bfloat16 autocast runs on the CPU too, so the mixed-precision path is exercised here without a GPU; the CUDA
tests at the end run where torch sees one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirbench import device as dev
from mirbench.run.plan import RunOptions, trial_devices
from mirbench.kit.training import mean_loss, sgd_epoch
from tests.helpers import synthetic_suite

CPU = torch.device("cpu")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_precision_auto_is_bfloat16_only_on_a_gpu_that_has_it(monkeypatch):
    assert dev.resolve_precision("auto", CPU) == "fp32"
    assert dev.resolve_precision("fp32", CPU) == "fp32"
    assert dev.resolve_precision("bf16", CPU) == "bf16"  # forced: CPUs with bfloat16 units, and these tests
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert dev.resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert dev.resolve_precision("fp32", torch.device("cuda")) == "fp32"  # the off switch
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla V100")
    assert dev.resolve_precision("auto", torch.device("cuda")) == "fp32"
    with pytest.raises(ValueError, match="V100 has no bfloat16; use auto or fp32"):
        dev.resolve_precision("bf16", torch.device("cuda"))
    with pytest.raises(ValueError, match="use one of auto, fp32, bf16"):
        dev.resolve_precision("fp16", CPU)


def test_autocast_runs_the_forward_pass_in_bfloat16_and_fp32_leaves_it_alone():
    layer, x = torch.nn.Linear(4, 3), torch.randn(2, 4)
    with dev.autocast(CPU, "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with dev.autocast(CPU, "fp32"):
        assert layer(x).dtype == torch.float32


def test_to_device_shares_memory_on_the_cpu_and_reads_memory_maps(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert dev.to_device(a, CPU).data_ptr() == a.ctypes.data  # no copy
    np.save(tmp_path / "f.npy", a)
    mapped = np.load(tmp_path / "f.npy", mmap_mode="r")[::2]  # a strided, read-only view of a cache entry
    assert torch.equal(dev.to_device(mapped, CPU), torch.from_numpy(a[::2].copy()))


def test_sgd_in_bfloat16_learns_and_keeps_float32_weights():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(256, 8, generator=gen)
    y = (X[:, 0] > 0).long()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = torch.nn.functional.cross_entropy
    before = mean_loss(model, loss, X, y, precision="bf16")
    for _ in range(20):
        sgd_epoch(model, opt, loss, X, y, 32, gen, precision="bf16")
    after = mean_loss(model, loss, X, y, precision="bf16")
    assert after < 0.5 * before and np.isfinite(after)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast casts activations, not weights


def test_memory_meter_records_the_process_peak_and_gpu_memory_only_on_a_gpu():
    with dev.memory_meter(CPU) as usage:
        block = np.ones(4_000_000)  # 32 MB
    assert usage["process_peak_rss_bytes"] >= block.nbytes
    assert "peak_gpu_memory_bytes" not in usage


def test_out_of_memory_says_what_happened_and_what_to_do():
    gpu = dev.out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), CPU)
    assert gpu["type"] == "OutOfMemoryError"
    assert "GPU out of memory" in gpu["message"] and "Tried to allocate 2.00 GiB" in gpu["message"]
    assert "batch_size" in gpu["message"] and "--precision auto" in gpu["message"]
    assert "host out of memory" in dev.out_of_memory(MemoryError(), CPU)["message"]
    assert dev.out_of_memory(RuntimeError("shape mismatch"), CPU) is None


def test_parallel_workers_share_the_gpus_round_robin(monkeypatch):
    import mirbench.run.plan as runner

    monkeypatch.setattr(runner, "gpu_count", lambda: 3)
    assert trial_devices(RunOptions(device="auto", workers=2), 4) == ["cuda:0", "cuda:1", "cuda:2", "cuda:0"]
    assert trial_devices(RunOptions(device="cuda", workers=3), 2) == ["cuda:0", "cuda:1"]
    assert trial_devices(RunOptions(device="cuda:2", workers=2), 2) == ["cuda:2"] * 2  # asked for: kept
    assert trial_devices(RunOptions(device="auto", workers=1), 2) == ["auto"] * 2  # one worker: torch's default
    assert trial_devices(RunOptions(device="auto", workers=2, cluster="local:2"), 1) == ["auto"]  # workers' own GPUs
    monkeypatch.setattr(runner, "gpu_count", lambda: 1)
    assert trial_devices(RunOptions(device="auto", workers=2), 2) == ["auto"] * 2


def test_a_trial_records_its_precision_and_memory(write_suite, tmp_path):
    from mirbench.cli import main
    from mirbench.results import ResultStore

    suite = write_suite(DIELEMAN_SUITE)
    for precision in ("bf16", "fp32"):
        out = tmp_path / precision
        args = ["run", str(suite), "--quick", "--results", str(out), "--reports", str(out), "--no-progress", "--device", "cpu"]
        assert main(args + ["--precision", precision]) == 0
        (record,) = ResultStore(out).records()
        assert record["provenance"]["precision"] == precision
        assert record["resources"]["process_peak_rss_bytes"] > 0
        assert np.isfinite(np.asarray(record["predictions"]["scores"], dtype=float)).all()


DIELEMAN_SUITE = synthetic_suite("""
[[systems]]
name = "dieleman2014.cnn"
params = { input = "mel", n_mels = 32, max_epochs = 2, updates_per_epoch = 2, batch_size = 4 }
""", tail="[quick]\nfolds = 1\n")


@cuda
@pytest.mark.parametrize("system", ["sigtia2014.mlp", "dieleman2014.cnn"])
def test_learned_systems_train_on_cuda_in_mixed_precision(system, tmp_path, write_suite):
    from mirbench.cli import main
    from mirbench.results import ResultStore

    suite = write_suite(DIELEMAN_SUITE.replace('"dieleman2014.cnn"', f'"{system}"').replace(
        'params = { input = "mel", n_mels = 32, max_epochs = 2, updates_per_epoch = 2, batch_size = 4 }',
        "params = { max_epochs = 2 }"))
    out = tmp_path / "res"
    assert main(["run", str(suite), "--quick", "--results", str(out), "--reports", str(out), "--no-progress",
                 "--device", "cuda"]) == 0
    (record,) = ResultStore(out).records()
    assert record["provenance"]["device"].startswith("cuda") and record["provenance"]["precision"] in ("bf16", "fp32")
    assert 0 < record["resources"]["peak_gpu_memory_bytes"] <= record["resources"]["gpu_memory_total_bytes"]


@cuda
def test_to_device_pins_the_host_copy_for_cuda():
    a = np.ones((64, 32), dtype=np.float32)
    t = dev.to_device(a, torch.device("cuda"))
    torch.cuda.synchronize()
    assert t.is_cuda and torch.equal(t.cpu(), torch.from_numpy(a))


def test_the_report_shows_peak_gpu_memory_and_precision_when_trials_ran_on_a_gpu():
    from mirbench.report.sections import provenance, timings

    def record(label, peak):
        return {"status": "ok", "variant": {"label": label, "id": label, "system": "x", "params": {}},
                "n_parameters": 10, "training": {},
                "timings": {"features_s": 1.0, "fit_s": 2.0, "predict_s": 0.5},
                "resources": {"peak_gpu_memory_bytes": peak} if peak else {"process_peak_rss_bytes": 1},
                "provenance": {"device": "cuda:0" if peak else "cpu", "precision": "bf16" if peak else "fp32"}}

    on_gpu = timings([record("a", 3 * 2**30), record("a", 2**30), record("b", None)])
    assert "peak GPU memory (MiB)" in on_gpu and "3,072" in on_gpu and "| —" in on_gpu.split("| b")[1]
    assert "GPU" not in timings([record("b", None)])  # CPU runs: no column
    suite = {"name": "s", "version": "1"}
    assert "precision: bf16, fp32" in provenance(suite, [record("a", 1), record("b", None)], "res")
