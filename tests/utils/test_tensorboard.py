"""tritensor.utils.tensorboard.SummaryWriter: what it writes, read back with TensorBoard's own event reader."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

import tritensor as tt
from tritensor.utils.tensorboard import SummaryWriter

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
tensor_util = pytest.importorskip("tensorboard.util.tensor_util")
PIL_Image = pytest.importorskip("PIL.Image")


def _read(log_dir) -> event_accumulator.EventAccumulator:
    """Every event under log_dir (its own files only), nothing sampled away."""
    acc = event_accumulator.EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0, "images": 0,
                                                                          "histograms": 0})
    acc.Reload()
    return acc


def _scalars(log_dir, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in _read(log_dir).Scalars(tag)]


def test_scalars_at_several_steps_read_back(tmp_path):
    values = [tt.tensor(0.5), 1.25, np.float32(2.5), np.array([3.75]), tt.tensor([[5.0]]), True]
    with SummaryWriter(tmp_path) as writer:
        for step, value in enumerate(values):
            writer.add_scalar("loss", value, step * 10)
        writer.add_scalar("bf16", tt.tensor(1.5, dtype=tt.bfloat16), 3, walltime=123.0)
        writer.add_scalar("grad", tt.tensor(2.0, requires_grad=True) * 2, 0)
    assert _scalars(tmp_path, "loss") == [(0, 0.5), (10, 1.25), (20, 2.5), (30, 3.75), (40, 5.0), (50, 1.0)]
    bf16 = _read(tmp_path).Scalars("bf16")
    assert [(e.step, e.value, e.wall_time) for e in bf16] == [(3, 1.5, 123.0)]
    assert _scalars(tmp_path, "grad") == [(0, 4.0)]


def test_new_style_scalar_is_a_tensor_of_the_scalars_plugin(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("f32", 0.1, 1, new_style=True)
        writer.add_scalar("f64", 0.1, 2, new_style=True, double_precision=True)
    acc = _read(tmp_path)
    f32, f64 = acc.Tensors("f32")[0], acc.Tensors("f64")[0]
    assert f32.step == 1 and tensor_util.make_ndarray(f32.tensor_proto).dtype == np.float32
    assert tensor_util.make_ndarray(f64.tensor_proto) == 0.1 and f64.tensor_proto.dtype == 2  # DT_DOUBLE
    assert acc.SummaryMetadata("f32").plugin_data.plugin_name == "scalars"


def test_add_scalars_writes_one_sub_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalars("train/loss", {"a": float(step), "b": tt.tensor(10.0 + step)}, step)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["train_loss_a", "train_loss_b"]
    assert _scalars(tmp_path / "train_loss_a", "train/loss") == [(0, 0.0), (1, 1.0), (2, 2.0)]
    assert _scalars(tmp_path / "train_loss_b", "train/loss") == [(0, 10.0), (1, 11.0), (2, 12.0)]


def test_histogram_statistics_read_back(tmp_path):
    values = tt.tensor([[-1.0, 0.5, 2.0], [3.0, 3.0, 7.5]])
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("w", values, 5)
        writer.add_histogram("auto", np.arange(100.0), 6, bins="auto", max_bins=4)
    acc = _read(tmp_path)
    event = acc.Histograms("w")[0]
    h = event.histogram_value
    assert (event.step, h.num, h.min, h.max, h.sum) == (5, 6, -1.0, 7.5, 15.0)
    assert h.sum_squares == pytest.approx(1 + 0.25 + 4 + 9 + 9 + 56.25)
    auto = acc.Histograms("auto")[0].histogram_value
    assert auto.num == 100 and len(auto.bucket) <= 5 and sum(auto.bucket) == 100


def _png(acc, tag: str) -> np.ndarray:
    event = acc.Images(tag)[0]
    return np.asarray(PIL_Image.open(io.BytesIO(event.encoded_image_string)))


def test_image_sizes_and_pixels_read_back(tmp_path):
    chw = np.zeros((3, 5, 7), np.float32)
    chw[0, 0, 0], chw[1, 0, 0], chw[2, 0, 0] = 1.0, 2.0, -1.0  # 2.0 and -1.0 are clipped, as PyTorch
    hwc = np.full((4, 6, 3), 200, np.uint8)
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("chw", tt.tensor(chw), 1)
        writer.add_image("hwc", hwc, 2, dataformats="HWC")
        writer.add_image("hw", np.full((2, 3), 0.5), 3, dataformats="HW")
        writer.add_images("batch", np.ones((3, 1, 4, 5)), 4)  # one row of three grey images
    acc = _read(tmp_path)
    sizes = {tag: (acc.Images(tag)[0].height, acc.Images(tag)[0].width) for tag in ("chw", "hwc", "hw", "batch")}
    assert sizes == {"chw": (5, 7), "hwc": (4, 6), "hw": (2, 3), "batch": (4, 15)}
    assert _png(acc, "chw")[0, 0].tolist() == [255, 255, 0]
    assert (_png(acc, "hwc") == 200).all() and (_png(acc, "batch") == 255).all()
    assert acc.Images("hwc")[0].step == 2


def test_text_reads_back(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_text("notes", "**lr** = 0.1", 7)
    event = _read(tmp_path).Tensors("notes/text_summary")[0]
    assert event.step == 7 and tensor_util.make_ndarray(event.tensor_proto).tolist() == [b"**lr** = 0.1"]


def test_flush_writes_pending_entries_and_close_reopens_on_next_add(tmp_path):
    writer = SummaryWriter(tmp_path, max_queue=1000, flush_secs=10_000, filename_suffix=".x")
    writer.add_scalar("a", 1.0, 0)
    writer.flush()
    assert _scalars(tmp_path, "a") == [(0, 1.0)]
    writer.close()
    writer.close()  # a second close is harmless
    writer.add_scalar("a", 2.0, 1)  # a new event file in the same directory, as PyTorch
    writer.close()
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 2 and all(f.startswith("events.out.tfevents.") and f.endswith(".x") for f in files)
    # both files' entries (the reader's file order within one second of wall time is not the write order)
    assert sorted(_scalars(tmp_path, "a")) == [(0, 1.0), (1, 2.0)]


def test_log_dir_defaults_and_context_manager(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as writer:
        log_dir = writer.get_logdir()
        writer.add_scalar("x", 1, 0)
    assert os.path.dirname(log_dir) == "runs" and log_dir.endswith("_lr0.1")
    assert writer.file_writer is None  # closed on leaving the block
    assert _scalars(tmp_path / log_dir, "x") == [(0, 1.0)]
    assert SummaryWriter(tmp_path / "given", comment="ignored").get_logdir() == str(tmp_path / "given")


def test_purge_step_hides_later_events_of_an_earlier_run(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_scalar("loss", float(step), step)
    with SummaryWriter(tmp_path, purge_step=3) as writer:
        writer.add_scalar("loss", 30.0, 3)
    assert _scalars(tmp_path, "loss") == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 30.0)]


def test_cuda_tensors(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("s", tt.tensor(0.25, device="cuda"), 0)
        writer.add_histogram("h", tt.arange(4, device="cuda", dtype=tt.float32), 0)
        writer.add_image("i", tt.ones(1, 2, 3, device="cuda"), 0)
        writer.add_scalars("m", {"a": tt.tensor([1.5], device="cuda")}, 0)
    acc = _read(tmp_path)
    assert _scalars(tmp_path, "s") == [(0, 0.25)]
    h = acc.Histograms("h")[0].histogram_value
    assert (h.num, h.min, h.max, h.sum) == (4, 0.0, 3.0, 6.0)
    assert (acc.Images("i")[0].height, acc.Images("i")[0].width) == (2, 3) and (_png(acc, "i") == 255).all()
    assert _scalars(tmp_path / "m_a", "m") == [(0, 1.5)]


def test_hparams_and_graph(tmp_path):
    model = tt.nn.Sequential(tt.nn.Linear(3, 4), tt.nn.ReLU(), tt.nn.Linear(4, 2))
    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"lr": tt.tensor(0.1), "opt": "sgd"}, {"hp/acc": 0.75},
                           hparam_domain_discrete={"opt": ["sgd", "adam"]}, run_name="run0")
        writer.add_graph(model, tt.zeros(1, 3))
    hp = _read(tmp_path / "run0")
    assert _scalars(tmp_path / "run0", "hp/acc") == [(0, 0.75)]
    contents = hp.PluginTagToContent("hparams")
    assert set(contents) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = contents["_hparams_/experiment"]
    infos = {i.name: i for i in plugin_data_pb2.HParamsPluginData.FromString(content).experiment.hparam_infos}
    assert [v.string_value for v in infos["opt"].domain_discrete.values] == ["sgd", "adam"]
    nodes = {n.name: n for n in _read(tmp_path).Graph().node}
    assert nodes["Sequential/0/Linear"].op == "Linear"
    assert list(nodes["Sequential/2/Linear"].input) == ["Sequential/2/weight", "Sequential/2/bias"]
    assert nodes["Sequential/2/weight"].attr["_output_shapes"].list.shape[0].dim[0].size == 2


def test_bad_input_raises_pytorch_errors_before_writing(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(AssertionError, match="Tensor should contain one element"):
            writer.add_scalar("bad", tt.tensor([1.0, 2.0]), 0)
        with pytest.raises(AssertionError, match="Tensor should contain one element"):
            writer.add_scalars("many", {"ok": 1.0, "bad": np.ones(3)}, 0)
        with pytest.raises(AssertionError, match="size of input tensor and input format are different"):
            writer.add_image("img", np.zeros((3, 4, 5)), 0, dataformats="NCHW")
        with pytest.raises(AssertionError, match="size of input tensor and input format are different"):
            writer.add_images("imgs", np.zeros((3, 4, 5)), 0)
        with pytest.raises(ValueError, match="The input has no element"):
            writer.add_histogram("empty", np.zeros(0), 0)
        with pytest.raises(TypeError, match="should be dictionary"):
            writer.add_hparams([("lr", 0.1)], {})
        with pytest.raises(NotImplementedError, match="expected numpy array or tritensor Tensor"):
            writer.add_scalar("str", "1.0", 0)
        writer.add_scalar("good", 1.0, 0)
    acc = _read(tmp_path)
    assert acc.Tags()["scalars"] == ["good"] and acc.Tags()["images"] == [] and acc.Tags()["histograms"] == []
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # add_scalars opened no sub-run


def test_missing_tensorboardx_names_the_extra_at_construction(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'pip install "tritensor\[tensorboard\]"'):
        SummaryWriter(tmp_path)
    assert not os.listdir(tmp_path)


def test_import_tritensor_does_not_import_tensorboardx():
    code = ("import sys, tritensor, tritensor.utils, tritensor.utils.tensorboard; "
            "assert 'tensorboardX' not in sys.modules and 'tensorboard' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
