"""`eval`: train every model of a gallery from scratch, scaled up, and measure test error.

Each model is one `eval_train` job, so an evaluation is resumable, watchable and exportable
like a search. The scaled desc keeps the model's cells and reductions; channels, cell count
and the auxiliary head come from the `eval` section, epochs, drop-path and the rest from
`trainer`, cutout and the split from `data`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from petri.algos.base import Algorithm, Outcome, trained_point
from petri.config import from_mapping, setting
from petri.data.config import DataCfg
from petri.data.info import dataset_info
from petri.errors import ConfigError
from petri.space.desc import model_desc
from petri.hull import HullCfg
from petri.space.desc import ModelDesc
from petri.store.gallery import read_models
from petri.store.records import Job, JobSpec
from petri.store.view import RunView
from petri.train.config import TrainCfg
from petri.train.job import TrainJobResult, TrainSpec


@dataclass(frozen=True)
class EvalCfg:
    gallery: str = setting("", help="The HDF5 gallery whose models are trained (set by "
                                    "`petri eval GALLERY`).")
    ids: list[int] | None = setting(None, help="Gallery model ids to evaluate (null: all).")
    channels: int | None = setting(None, ge=1, le=1024, help="First-cell channels of the "
                                                             "trained models (null: as searched).")
    cell_scale: float = setting(1.0, gt=0, le=100, help="Cells become ceil(cells * "
                                                        "cell_scale), at most max_cells.")
    max_cells: int = setting(20, ge=1, le=128, help="Most cells a scaled model gets.")
    auxiliary: bool = setting(False, help="Add an auxiliary classifier head, weighted by "
                                          "trainer.aux_weight.")


def scale_desc(desc: ModelDesc, cfg: EvalCfg, dataset: str) -> ModelDesc:
    info = dataset_info(dataset)
    cells = min(math.ceil(desc.cells * cfg.cell_scale), cfg.max_cells)
    if cells <= desc.reductions:
        raise ConfigError(f"eval.cell_scale/max_cells leave {cells} cells for a model with "
                          f"{desc.reductions} reductions; raise eval.max_cells")
    return desc.scaled(channels=cfg.channels or desc.channels, cells=cells,
                       auxiliary=cfg.auxiliary, in_channels=info.shape[0],
                       num_classes=info.num_classes).validate()


class Evaluate(Algorithm):
    name = "eval"
    settings = {"eval": EvalCfg, "hull": HullCfg}

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self.eval = from_mapping(EvalCfg, cfg.get("eval"), "eval")
        from_mapping(HullCfg, cfg.get("hull"), "hull")  # `petri eval` sets the gallery's cost
        if not self.eval.gallery:
            raise ConfigError("eval.gallery is not set; run `petri eval GALLERY.h5 --config ...`")
        self.data = DataCfg.from_dict(cfg.get("data")).to_dict()
        self.trainer = TrainCfg.from_dict(cfg.get("trainer") or {}).to_dict()
        models = read_models(self.eval.gallery)
        if self.eval.ids is not None:
            known = {m.id for m in models}
            missing = sorted(set(self.eval.ids) - known)
            if missing:
                raise ConfigError(f"eval.ids {missing} are not in {self.eval.gallery}; it holds "
                                  f"{sorted(known)}")
            models = [m for m in models if m.id in set(self.eval.ids)]
        self.models = {m.id: (m, scale_desc(model_desc(m, self.eval.gallery), self.eval,
                                            self.data["dataset"])) for m in models}

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        if view.job_count():
            return []
        return [JobSpec("eval_train", TrainSpec(desc=desc.to_dict(), data=self.data,
                                                trainer=self.trainer, with_test=True,
                                                extra={"gallery_id": gid}).to_dict(),
                        f"eval/{gid}")
                for gid, (_, desc) in self.models.items()]

    def on_result(self, job: Job, result: TrainJobResult, view: RunView) -> Outcome:
        gid = job.spec["gallery_id"]
        source = self.models[gid][0] if gid in self.models else None
        no_val = self.data.get("val_size", 1) == 0
        return Outcome(points=[trained_point(
            job, result, "eval", {"gallery": self.eval.gallery, "gallery_id": gid,
                                  "search_val_error": source.val_error if source else None},
            val_error=None if no_val else result.val_error,
            ordinal=self.point_ordinal(job))])

    def point_ordinal(self, job: Job) -> int:
        """A model keeps its gallery id (the search's point id) as its point id here, so
        the table, the live view and the gallery name it alike."""
        return job.spec["gallery_id"] - 1

    def stop_reason(self, view: RunView) -> str | None:
        return "every gallery model evaluated" if view.job_count() else None

    def planned_points(self) -> int:
        return len(self.models)

