"""Export a run's frontier to an HDF5 gallery, and load gallery models back as modules.

    petri export RUN -o gallery.h5            # the Pareto frontier (default)
    petri export RUN -o gallery.h5 --eps 0.025  # every point in the hull's eps band
    model = petri.gallery.load_model("gallery.h5", 12)
    model.classes[int(model(x).argmax(1)[0])]   # what it predicts, by name
"""
from __future__ import annotations

from pathlib import Path

from petri.errors import StoreError
from petri.hull import COST_METRICS, eps_band, pareto_front, priced
from petri.io import check_writable, remove_stale_temps
from petri.rundir import RunDir
from petri.space.desc import model_desc
from petri.store.gallery import (GalleryModel, Preprocessing, read_meta, read_model,
                                 write_gallery)


def select_points(points, metric: str, eps: float | None, log_cost: bool = True) -> list:
    """The frontier (eps None) or the eps band of the lower hull of the points that can be
    exported (a desc and a checkpoint), cheapest first."""
    pts = priced([p for p in points if p.desc and p.checkpoint], metric)
    ids = set(pareto_front(pts) if eps is None else eps_band(pts, eps, log_cost))
    return sorted((p for p in points if p.id in ids), key=lambda p: (p.cost(metric), p.id))


def selected_points(run_dir: str | Path, eps: float | None = None,
                    metric: str | None = None) -> tuple[list, dict, str]:
    """(the chosen points of `run_dir`, job specs by id, the cost metric they were chosen by).

    `metric` is a point field (macs, params, activation_bytes), default the run's hull.cost."""
    from petri.hull import configured_hull
    from petri.store.store import RunStore

    run_dir = Path(run_dir)
    hull = configured_hull(run_dir)
    metric = metric or hull["metric"]
    if metric not in COST_METRICS.values():
        raise StoreError(f"unknown cost metric {metric!r}; choose one of "
                         f"{', '.join(COST_METRICS.values())} (the point fields; --cost and "
                         f"hull.cost name them {', '.join(COST_METRICS)})")
    with RunStore.open(run_dir, readonly=True, verify=True) as store:
        points = store.view.points()
        specs = {j.id: j.spec for j in store.view.jobs()}
    chosen = select_points(points, metric, eps, hull["log"])
    if not chosen:
        raise StoreError(f"{run_dir} has no trained point with a checkpoint yet; wait for "
                         f"the first jobs to finish (`petri status {run_dir}`)")
    return chosen, specs, metric


def point_weights(run_dir: Path, point) -> dict:
    """The state dict a point's checkpoint holds."""
    from petri.train import checkpoint

    try:
        state = checkpoint.load(run_dir / point.checkpoint)
    except checkpoint.CheckpointError as e:
        raise StoreError(f"point {point.id}: {e}") from None
    if state is None:
        raise StoreError(f"the checkpoint of point {point.id} ({run_dir / point.checkpoint}) "
                         f"is missing; pick other points with --eps")
    return state["model"]


def check_target(out: Path) -> None:
    """Refuse, before any work, an output that cannot be written or would replace a file
    that is not a gallery; and clear what killed exports left beside it."""
    check_writable(out, "gallery")
    if out.exists():
        try:
            read_meta(out)
        except StoreError:
            raise StoreError(f"{out} exists and is not a petri gallery; it was left untouched: "
                             f"choose another output file or move it away") from None
    remove_stale_temps(out)


def frontier_models(run_dir: str | Path, eps: float | None = None,
                    metric: str | None = None) -> tuple[list[GalleryModel], dict]:
    """The selected points of `run_dir` as gallery models with their weights and what their
    inputs must be, and the gallery's metadata (source, cost metric, selection, config)."""
    from petri.data.info import dataset_info

    run_dir = Path(run_dir)
    chosen, specs, metric = selected_points(run_dir, eps, metric)
    models = []
    for p in chosen:
        state = point_weights(run_dir, p)
        spec = specs.get(p.job_id, {})
        info = dataset_info(spec["data"]["dataset"]) if "data" in spec else None
        models.append(GalleryModel(
            id=p.id, key=p.key, desc=p.desc, val_error=p.val_error, test_error=p.test_error,
            params=p.params, macs=p.macs, activation_bytes=p.activation_bytes, parent=p.parent,
            stage=p.stage or "", lineage=p.lineage, trainer=spec.get("trainer", {}),
            data=spec.get("data", {}), classes=list(info.classes) if info else [],
            preprocessing=info and Preprocessing(info.shape, info.mean, info.std),
            weights={k: v.detach().cpu().numpy() for k, v in state.items()},
            latency_ms=p.latency_ms, latency=p.latency))
    config_path = RunDir(run_dir).config
    meta = {"source": str(run_dir.resolve()), "cost_metric": metric,
            "selection": "frontier" if eps is None else f"eps band {eps:g}",
            "config": config_path.read_text() if config_path.is_file() else ""}
    return models, meta


def export(run_dir: str | Path, out: str | Path, eps: float | None = None,
           metric: str | None = None) -> list[GalleryModel]:
    """Write the selected points of `run_dir` with their weights to the gallery `out`."""
    out = Path(out)
    check_target(out)
    models, meta = frontier_models(run_dir, eps, metric)
    write_gallery(out, models, meta)
    return models


def load_model(path: str | Path, model_id: int, device: str = "cpu"):
    """The gallery model `model_id` as a ready `nn.Module` (eval mode) with its weights;
    `model.classes` names each output and `model.preprocessing` (a `Preprocessing`, None for
    galleries exported before it was kept) says what inputs must be:

        pre = model.preprocessing            # shape (C, H, W), mean and std per channel
        mean, std = (torch.tensor(v).view(-1, 1, 1) for v in (pre.mean, pre.std))
        logits = model(((pixels / 255 - mean) / std)[None])   # pixels: uint8, (C, H, W)
        model.classes[int(logits.argmax(1))]
    """
    return build_module(read_model(path, model_id), path).to(device)


def build_module(m: GalleryModel, path: str | Path):
    """Gallery model `m` (read with its weights from `path`) as an `nn.Module` in eval mode,
    carrying `classes` and `preprocessing`."""
    import numpy as np
    import torch

    from petri.space.build import build_model

    model = build_model(model_desc(m, path))
    # h5py returns 0-d datasets (BN's num_batches_tracked) as numpy scalars: wrap them.
    try:
        model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in m.weights.items()})
    except RuntimeError as e:
        raise StoreError(f"gallery {path}: the weights of model {m.id} do not fit its desc "
                         f"({' '.join(str(e).split())[:200]}); export the gallery again") \
            from None
    model.classes = tuple(m.classes)
    model.preprocessing = m.preprocessing
    return model.eval()

