"""Run a model on a target and measure it (`measure_subject`, `measure_desc`), with a cache
per (model, target and machine, batch, threads, input shape, protocol).

Runs are inference passes in eval mode on random inputs. On CUDA each run is timed with a
pair of CUDA events after a synchronize, so the figure is the GPU's time for the pass and
not the host's time to queue it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

from petri.errors import PetriError, install_extra
from petri.io import cache_dir
from petri.latency.measure import Protocol, Timings, measure
from petri.latency.models import Subject, desc_subject
from petri.latency.target import Target, TargetInfo, describe_target, onnxruntime_module
from petri.space.desc import ModelDesc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Latency:
    """One measured figure and everything it means."""

    model: str
    identity: str
    input_shape: tuple[int, int, int]
    info: TargetInfo
    timings: Timings
    protocol: Protocol
    cached: bool = False  # read from the cache, not measured now

    def to_dict(self) -> dict:
        return {**asdict(self), "info": self.info.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "Latency":
        return cls(d["model"], d["identity"], tuple(d["input_shape"]),
                   TargetInfo.from_dict(d["info"]), Timings(**d["timings"]),
                   Protocol(**d["protocol"]), d.get("cached", False))


def cache_key(subject: Subject, info: TargetInfo, protocol: Protocol) -> str:
    return json.dumps([subject.identity, info.to_dict(), list(subject.input_shape),
                       protocol.to_dict()], sort_keys=True)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads pinned to `n` inside, as they were after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _onnx_bytes(subject: Subject, x) -> bytes:
    """The subject as ONNX: the exported file itself, or its module exported now."""
    if subject.kind == "onnx":
        return subject.path.read_bytes()
    try:
        import onnxscript  # noqa: F401  torch's exporter needs it, and says so only late
    except ImportError:
        raise PetriError(f"measuring {subject.name} on onnxruntime exports it with torch's "
                         f"ONNX exporter, which needs the onnx extra: "
                         f"{install_extra('onnx')}") from None
    import torch

    from petri.export import quiet_exporters

    with quiet_exporters():
        program = torch.onnx.export(subject.torch_module(), (x,), input_names=["images"],
                                    dynamo=True, verbose=False)
    return program.model_proto.SerializeToString()


@contextlib.contextmanager
def runner(subject: Subject, target: Target) -> Iterator[Callable[[], float]]:
    """A function that runs `subject` once on `target` and returns the seconds it took."""
    import torch

    x = torch.randn(target.batch, *subject.input_shape, generator=torch.Generator().manual_seed(0))
    if target.kind == "onnxruntime":
        ort = onnxruntime_module()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = target.threads, 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(_onnx_bytes(subject, x), opts,
                                       providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x.numpy()}
        yield timer(lambda: session.run(None, feed))
        return
    if subject.kind == "onnx":
        raise PetriError(f"{subject.name} is an ONNX file: measure it with --target "
                         f"onnxruntime (or its .pt2 file, or its desc, on {target.kind})")
    module = subject.torch_module()
    with torch_threads(target.threads), torch.inference_mode():
        if target.kind == "cuda":
            module, x = module.cuda(), x.cuda()
        yield timer(lambda: module(x), target.kind == "cuda")


def timer(call: Callable[[], object], cuda: bool = False) -> Callable[[], float]:
    """A function that makes `call` once and returns the seconds it took: by the host's
    clock, or on CUDA by a pair of events after a synchronize."""
    if not cuda:
        def time_once() -> float:
            t0 = time.perf_counter()
            call()
            return time.perf_counter() - t0
        return time_once
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def time_cuda() -> float:
        torch.cuda.synchronize()
        start.record()
        call()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    return time_cuda


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, latency: Latency) -> None:
    from petri.io import atomic_write_json

    path = cache_dir() / "latency.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {**_read_cache(path), key: latency.to_dict()}, durable=False)
    except OSError as e:  # a read-only home: the figure is still printed
        log.warning("could not cache the latency in %s (%s); set PETRI_CACHE_DIR to a "
                    "writable folder", path, e)


def measure_subject(subject: Subject, target: Target, protocol: Protocol = Protocol(),
                    cache: bool = True) -> Latency:
    """The latency of `subject` on `target`: from the cache when `cache` and measured before
    on this machine by this protocol, else measured now (and cached)."""
    info = describe_target(target)
    key = cache_key(subject, info, protocol)
    if cache:
        hit = _read_cache(cache_dir() / "latency.json").get(key)
        if hit is not None:
            return Latency.from_dict({**hit, "model": subject.name, "cached": True})
    with runner(subject, target) as time_once:
        timings = measure(time_once, protocol)
    latency = Latency(subject.name, subject.identity, subject.input_shape, info, timings,
                      protocol)
    _write_cache(key, latency)
    return latency


def measure_desc(desc: ModelDesc, target: Target, input_shape: tuple[int, int, int],
                 protocol: Protocol = Protocol(), cache: bool = True) -> Latency:
    """The latency of the network `desc` describes on `target`, on `input_shape` images."""
    return measure_subject(desc_subject(desc, desc.name or desc.key(), input_shape), target,
                           protocol, cache)
