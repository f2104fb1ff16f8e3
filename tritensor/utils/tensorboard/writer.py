"""`SummaryWriter`: torch.utils.tensorboard.SummaryWriter's API, writing TensorBoard event files through tensorboardX.

The event files, records and protocol buffers are tensorboardX's (its `EventsWriter`, its summary builders and the
protobuf classes it bundles); this module converts tritensor Tensors, NumPy arrays and Python numbers to NumPy,
checks arguments with PyTorch's messages before anything is written, and lays files out as PyTorch does
(`add_scalars` writes one sub-run per tag, `add_hparams` one sub-run per call).
"""

from __future__ import annotations

import atexit
import itertools
import os
import socket
import time
from datetime import datetime
from typing import Any

import numpy as np

from ...tensor import Tensor

_INSTALL_HINT = 'tritensor.utils.tensorboard needs tensorboardX: pip install "tritensor[tensorboard]"'


def _tensorboardx() -> Any:
    """The tensorboardX package, or an ImportError naming the `tensorboard` extra."""
    try:
        import tensorboardX
        import tensorboardX.summary  # noqa: F401
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return tensorboardX


def _to_numpy(value: Any) -> np.ndarray:
    """A NumPy array of a tritensor Tensor (any device; bfloat16 as float32), an array, a number or a sequence."""
    if isinstance(value, Tensor):
        array = value.detach().cpu().numpy()
        if array.dtype.name == "bfloat16":
            array = array.astype(np.float32)
        return array
    if isinstance(value, np.ndarray):
        return value.astype(np.float32) if value.dtype.name == "bfloat16" else value
    if isinstance(value, (bool, int, float, np.generic, list, tuple)):
        return np.asarray(value)
    raise NotImplementedError(f"Got {type(value)}, but expected numpy array or tritensor Tensor.")


def _scalar_summary(tag: str, value: Any, new_style: bool = False, double_precision: bool = False) -> Any:
    """PyTorch's `summary.scalar`: a simple_value, or a 0-d tensor with the scalars plugin when new_style."""
    array = _to_numpy(value).squeeze()
    if array.ndim != 0:
        raise AssertionError("Tensor should contain one element (0 dimensions). "
                             f"Was given size: {array.size} and {array.ndim} dimensions.")
    number = float(array)
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=number)])
    if double_precision:
        proto = TensorProto(double_val=[number], dtype="DT_DOUBLE", tensor_shape=TensorShapeProto())
    else:
        proto = TensorProto(float_val=[number], dtype="DT_FLOAT", tensor_shape=TensorShapeProto())
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=tag, tensor=proto, metadata=metadata)])


def _image_summary(tag: str, img_tensor: Any, dataformats: str) -> Any:
    """PyTorch's `summary.image`: to HWC (a grid for NCHW), floats in [0, 1] scaled by 255, clipped, as uint8."""
    from tensorboardX.summary import image
    from tensorboardX.utils import convert_to_HWC

    array = convert_to_HWC(_to_numpy(img_tensor), dataformats)
    scale = 1 if array.dtype == np.uint8 else 255
    array = (array.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    return image(tag, array, dataformats="HWC")


def _default_bins() -> list[float]:
    """TensorFlow's default histogram bucket limits (±1e-12 * 1.1**k up to 1e20, and 0), as PyTorch's writer."""
    v, buckets = 1e-12, []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    return [-b for b in reversed(buckets)] + [0] + buckets


_FILE_UID = itertools.count()


class _EventFile:
    """One event file of a run, written through tensorboardX's EventsWriter (records, CRCs, protobuf encoding).

    Synchronous, with no thread, so that `flush()` means the events are on disk (tensorboardX's asynchronous
    FileWriter can still hold them in its queue after its flush). Events are written as they come and fsynced
    once `max_queue` are pending or `flush_secs` have passed since the last flush, on flush() and on close()
    (also at interpreter exit). The name is PyTorch's: events.out.tfevents.<time>.<host>.<pid>.<uid><suffix>.
    """

    def __init__(self, log_dir: str, max_queue: int, flush_secs: float, filename_suffix: str) -> None:
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.record_writer import directory_check

        directory_check(log_dir)
        self.log_dir = log_dir
        self.max_queue, self.flush_secs = max_queue, flush_secs
        suffix = f".{os.getpid()}.{next(_FILE_UID)}{filename_suffix}"
        self._writer: Any = EventsWriter(os.path.join(log_dir, "events"), suffix)
        self._pending, self._last_flush = 0, time.monotonic()
        atexit.register(self.close)

    def get_logdir(self) -> str:
        return self.log_dir

    def add_event(self, event: Any, step: int | None = None, walltime: float | None = None) -> None:
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        if self._writer is None:
            raise RuntimeError("the event file is closed")
        self._writer.write_event(event)
        self._pending += 1
        if self._pending >= self.max_queue or time.monotonic() - self._last_flush >= self.flush_secs:
            self.flush()

    def add_summary(self, summary: Any, global_step: int | None = None, walltime: float | None = None) -> None:
        from tensorboardX.proto.event_pb2 import Event

        self.add_event(Event(summary=summary), global_step, walltime)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()
        self._pending, self._last_flush = 0, time.monotonic()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            atexit.unregister(self.close)


class SummaryWriter:
    """Writes entries to TensorBoard event files in `log_dir`, as torch.utils.tensorboard.SummaryWriter.

    Entries are encoded and appended by tensorboardX's event writer as they are added, and forced to disk
    once `max_queue` are pending or `flush_secs` seconds have passed (checked when an entry is added), on
    `flush()`, on `close()` and at interpreter exit. Values may be tritensor Tensors on any device, NumPy
    arrays or Python numbers. Needs the `tensorboard` extra (`pip install "tritensor[tensorboard]"`); without
    tensorboardX the constructor raises ImportError.

    Args:
        log_dir: the directory of the run; default `runs/<date>_<time>_<hostname><comment>`.
        comment: appended to the default log_dir; ignored when log_dir is given.
        purge_step: hide events with global_step >= purge_step written to this log_dir by an earlier run.
        max_queue: entries queued before an `add_*` call forces a write to disk.
        flush_secs: how often, in seconds, pending entries are written to disk.
        filename_suffix: appended to every event file name in log_dir.

    Example:
        >>> with SummaryWriter("runs/exp1") as writer:  # doctest: +SKIP
        ...     writer.add_scalar("loss", loss, global_step=step)
    """

    def __init__(self, log_dir: str | os.PathLike | None = None, comment: str = "", purge_step: int | None = None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "") -> None:
        """Creates the writer and its first event file (raises ImportError without tensorboardX)."""
        self._tbx = _tensorboardx()
        if not log_dir:
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.default_bins = _default_bins()
        self.file_writer: _EventFile | None = None
        self.all_writers: dict[str, _EventFile] | None = None
        self._get_file_writer()

    def _new_file_writer(self, log_dir: str) -> _EventFile:
        return _EventFile(log_dir, self.max_queue, self.flush_secs, self.filename_suffix)

    def _get_file_writer(self) -> _EventFile:
        """The writer of log_dir's event file; a new one (and a new file) after close(), as PyTorch."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = self._new_file_writer(self.log_dir)
            if self.purge_step is not None:
                from tensorboardX.proto.event_pb2 import Event, SessionLog

                self.file_writer.add_event(Event(step=self.purge_step, file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
        return self.file_writer

    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None, walltime: float | None = None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        """Adds one scalar (a Python number, a NumPy scalar or a one-element Tensor/array) at global_step.

        new_style writes a 0-d tensor with the `scalars` plugin (float32, or float64 with double_precision)
        instead of a simple_value. A value with more than one element raises AssertionError, as PyTorch.
        """
        summary = _scalar_summary(tag, scalar_value, new_style=new_style, double_precision=double_precision)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any], global_step: int | None = None,
                    walltime: float | None = None) -> None:
        """Adds several scalars to one chart: each key is a sub-run `<log_dir>/<main_tag>_<key>` whose tag is
        main_tag, as PyTorch. Every value is checked before any is written."""
        walltime = time.time() if walltime is None else walltime
        summaries = {tag: _scalar_summary(main_tag, value) for tag, value in tag_scalar_dict.items()}
        fw_logdir = self._get_file_writer().get_logdir()
        assert self.all_writers is not None
        for tag, summary in summaries.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            if fw_tag not in self.all_writers:
                self.all_writers[fw_tag] = self._new_file_writer(fw_tag)
            self.all_writers[fw_tag].add_summary(summary, global_step, walltime)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None, bins: Any = "tensorflow",
                      walltime: float | None = None, max_bins: int | None = None) -> None:
        """Adds a histogram of values (any shape); bins is "tensorflow" (TensorFlow's default buckets), a NumPy
        bins string ("auto", "fd", ...), a number of bins or the bin edges; max_bins merges adjacent bins."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        from tensorboardX.summary import histogram

        summary = histogram(tag, _to_numpy(values), bins, max_bins=max_bins)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None, walltime: float | None = None,
                  dataformats: str = "CHW") -> None:
        """Adds one image: floats in [0, 1] (clipped) or uint8 in [0, 255], laid out as dataformats says
        ("CHW", "HWC", "HW", ...; 1, 3 or 4 channels). A shape that does not match dataformats raises
        AssertionError, as PyTorch. Needs Pillow to encode the PNG."""
        summary = _image_summary(tag, img_tensor, dataformats)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_images(self, tag: str, img_tensor: Any, global_step: int | None = None, walltime: float | None = None,
                   dataformats: str = "NCHW") -> None:
        """Adds a batch of images as one image, a grid of up to 8 columns (as PyTorch); values as add_image."""
        summary = _image_summary(tag, img_tensor, dataformats)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Adds text (Markdown) under the tag `<tag>/text_summary`, as PyTorch."""
        from tensorboardX.summary import text

        self._get_file_writer().add_summary(text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list] | None = None, run_name: str | None = None,
                    global_step: int | None = None) -> None:
        """Adds a set of hyperparameters and their metrics to TensorBoard's HParams view.

        Writes a sub-run `<log_dir>/<run_name>` (default: the current time) holding the experiment, the session
        and each metric as a scalar. Values are bool, str, numbers or one-element Tensors; hparam_domain_discrete
        lists the values a hyperparameter can take.
        """
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        if hparam_domain_discrete is not None and type(hparam_domain_discrete) is not dict:
            raise TypeError("hparam_domain_discrete should be a dictionary.")
        for key, values in (hparam_domain_discrete or {}).items():
            if key not in hparam_dict:
                raise ValueError(f"parameter: {key} is not in hparam_dict")
            if not isinstance(values, list):
                raise TypeError(f"parameter: hparam_domain_discrete[{key}] should be a list")
        hparams = {k: (v.item() if isinstance(v, Tensor) else v) for k, v in hparam_dict.items()}
        scalars = {k: _scalar_summary(k, v) for k, v in metric_dict.items()}
        exp, ssi, sei = self._tbx.summary.hparams(hparams, metric_dict)
        if hparam_domain_discrete:
            exp = _with_discrete_domains(exp, hparam_domain_discrete)
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        writer = self._new_file_writer(logdir)
        try:
            for summary in (exp, ssi, sei):
                writer.add_summary(summary, global_step)
            for summary in scalars.values():
                writer.add_summary(summary, global_step)
        finally:
            writer.close()

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """Adds the module tree of model to TensorBoard's Graphs view.

        tritensor has no tracer, so this records structure, not data flow: one node per module,
        `<path>/<class>` (TensorBoard nests a module's nodes inside its parent's; the root's path is the model's
        class name), and one node per parameter/buffer (op "Parameter", with its shape), fed into the module
        that owns it. input_to_model and use_strict_trace are accepted for PyTorch's signature and not used;
        verbose prints the nodes.
        """
        from tensorboardX.proto.attr_value_pb2 import AttrValue
        from tensorboardX.proto.graph_pb2 import GraphDef
        from tensorboardX.proto.node_def_pb2 import NodeDef
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboardX.proto.versions_pb2 import VersionDef

        if not hasattr(model, "named_modules"):
            raise TypeError(f"add_graph expects a tritensor.nn.Module, got {type(model).__name__}")
        root = type(model).__name__
        nodes = []
        for path, module in model.named_modules():
            name = root + ("/" + path.replace(".", "/") if path else "")
            inputs = []
            for pname, p in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
                if p is None:
                    continue
                shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(d)) for d in p.shape])
                nodes.append(NodeDef(name=f"{name}/{pname}", op="Parameter",
                                     attr={"_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[shape]))}))
                inputs.append(f"{name}/{pname}")
            nodes.append(NodeDef(name=f"{name}/{type(module).__name__}", op=type(module).__name__, input=inputs))
        if verbose:
            print("\n".join(f"{n.name} ({n.op}) <- {list(n.input)}" for n in nodes))
        graph = GraphDef(node=nodes, versions=VersionDef(producer=22))
        from tensorboardX.proto.event_pb2 import Event

        self._get_file_writer().add_event(Event(graph_def=graph.SerializeToString()))

    def flush(self) -> None:
        """Writes every pending entry of every event file to disk."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self) -> None:
        """Flushes and closes every event file; a later `add_*` call opens a new file in the same log_dir."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self) -> SummaryWriter:
        """The writer itself; leaving the block closes it."""
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        """Closes the writer."""
        self.close()


def _with_discrete_domains(exp: Any, domains: dict[str, list]) -> Any:
    """The hparams experiment summary with each named hyperparameter's domain_discrete filled in, as PyTorch."""
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    value = exp.value[0]
    content = HParamsPluginData.FromString(value.metadata.plugin_data.content)
    for info in content.experiment.hparam_infos:
        if info.name in domains:
            info.domain_discrete.extend(domains[info.name])
    value.metadata.plugin_data.content = content.SerializeToString()
    return exp
