"""User data: image folders, .npz and HDF5 imported into .petri files, checked, streamed."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from petri.data.config import DataCfg, absolute_paths
from petri.data.importer import import_dataset
from petri.data.info import dataset_info
from petri.data.loader import DeviceData, StreamData, make_splits
from petri.data.petrifile import open_arrays, read_header
from petri.data.sources import ImportOptions
from petri.errors import DataError
from tests.helpers.userdata import CLASSES, arrays, write_folder, write_h5


def test_png_folder_with_splits_is_stored_exactly(tmp_path):
    src = write_folder(tmp_path / "src", {"train": 10, "test": 4})
    header, skipped = import_dataset(tmp_path / "src", tmp_path / "d.petri")
    assert not skipped and header.classes == CLASSES and header.shape == (3, 12, 10)
    h, a = open_arrays(tmp_path / "d.petri")
    assert np.array_equal(a["train_x"], src["train"]) and np.array_equal(a["test_x"], src["test"])
    assert a["train_y"].tolist() == [0] * 10 + [1] * 10 + [2] * 10
    pixels = src["train"].transpose(1, 0, 2, 3).reshape(3, -1) / 255.0
    assert np.allclose(h.mean, pixels.mean(1), atol=1e-6)
    assert np.allclose(h.std, pixels.std(1), atol=1e-6)
    assert h.val_size == 3  # a tenth of the training images by default
    info = dataset_info(str(tmp_path / "d.petri"))
    assert info.shape == (3, 12, 10) and info.classes == CLASSES and info.num_classes == 3
    assert info.mean == h.mean and info.val_size == 3


def test_jpeg_folder_sizes_and_channels(tmp_path):
    write_folder(tmp_path / "src", {"": 4}, shape=(1, 16, 16), fmt="jpg")
    Image.new("L", (20, 18)).save(tmp_path / "src" / "dog" / "big.jpg")
    with pytest.raises(DataError, match=r"differ in size .*pass --size H W"):
        import_dataset(tmp_path / "src", tmp_path / "d.petri")
    assert list(tmp_path.glob("*")) == [tmp_path / "src"]  # nothing half-written
    h, _ = import_dataset(tmp_path / "src", tmp_path / "d.petri", ImportOptions(size=(8, 6)))
    assert h.shape == (1, 8, 6) and not h.has_test  # gray JPEGs stay one channel
    h, _ = import_dataset(tmp_path / "src", tmp_path / "rgb.petri",
                          ImportOptions(size=(8, 6), channels=3, val_size=5))
    assert h.shape == (3, 8, 6) and h.count("train") == 13 and h.val_size == 5


def test_npz_in_either_layout_and_hdf5_give_the_same_dataset(tmp_path):
    d = arrays()
    np.savez(tmp_path / "nchw.npz", **d)
    np.savez(tmp_path / "nhwc.npz", **{**d, "x": d["x"].transpose(0, 2, 3, 1),
                                      "x_test": d["x_test"].transpose(0, 2, 3, 1)})
    write_h5(tmp_path / "a.h5", {**d, "classes": np.array([b"a", b"b", b"c"])})
    headers = []
    for src in ("nchw.npz", "nhwc.npz", "a.h5"):
        h, _ = import_dataset(tmp_path / src, tmp_path / f"{src}.petri")
        _, a = open_arrays(h.path)
        assert np.array_equal(a["train_x"], d["x"]) and np.array_equal(a["test_y"], d["y_test"])
        headers.append(h)
    assert headers[0].hash == headers[1].hash  # the same content, whatever the layout
    assert headers[0].classes == ("0", "1", "2") and headers[2].classes == ("a", "b", "c")
    h, _ = import_dataset(tmp_path / "nhwc.npz", tmp_path / "small.petri",
                          ImportOptions(size=(4, 4), channels=1))
    assert h.shape == (1, 4, 4) and h.count("test") == 15


def test_gray_npz_without_a_channel_axis_is_one_channel(tmp_path):
    d = arrays(shape=(1, 8, 8))
    np.savez(tmp_path / "nhw.npz", **{**d, "x": d["x"][:, 0], "x_test": d["x_test"][:, 0]})
    h, _ = import_dataset(tmp_path / "nhw.npz", tmp_path / "nhw.petri")
    _, a = open_arrays(h.path)
    assert h.shape == (1, 8, 8) and np.array_equal(a["train_x"], d["x"])


def _truncated_png(path):
    Image.fromarray(np.zeros((12, 10, 3), np.uint8) + 77).save(path)
    path.write_bytes(path.read_bytes()[:-30])


def test_bad_images_are_named_or_skipped_and_counted(tmp_path):
    write_folder(tmp_path / "src", {"": 4})
    _truncated_png(tmp_path / "src" / "cat" / "zz.png")
    (tmp_path / "src" / "dog" / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"junk.png: unreadable image.*--skip-bad"):
        import_dataset(tmp_path / "src", tmp_path / "d.petri")
    (tmp_path / "src" / "dog" / "junk.png").unlink()
    with pytest.raises(DataError, match=r"zz.png: unreadable image .*truncated"):
        import_dataset(tmp_path / "src", tmp_path / "d.petri")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
    h, skipped = import_dataset(tmp_path / "src", tmp_path / "d.petri",
                                ImportOptions(skip_bad=True))
    assert len(skipped) == 1 and "zz.png" in skipped[0] and h.count("train") == 12
    assert h.raw["skipped"] == 1


@pytest.mark.parametrize("case, message", [
    ("empty_class", r"class folder .*eel has no images"),
    ("label_range", r"labels of the test split lie outside 0..2"),
    ("negative_label", r"labels of the train split lie outside 0..2"),
    ("float_images", r"dtype float32; petri stores uint8"),
    ("both_test_and_val", r"both test/ and val/"),
])
def test_bad_sources_are_one_clear_error_and_write_nothing(tmp_path, case, message):
    d = arrays()
    if case == "empty_class":
        write_folder(tmp_path / "src", {"": 2})
        for p in (tmp_path / "src" / "eel").iterdir():
            p.unlink()
        src = tmp_path / "src"
    elif case == "both_test_and_val":
        write_folder(tmp_path / "src", {"train": 2, "test": 1, "val": 1})
        src = tmp_path / "src"
    else:
        src = tmp_path / "a.npz"
        if case == "label_range":
            d["y_test"][0] = 3
        elif case == "negative_label":
            d["y"][0] = -1
        else:
            d["x"] = d["x"].astype(np.float32)
        np.savez(src, **d)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=message):
        import_dataset(src, out / "d.petri")
    assert not out.exists() or not list(out.iterdir())


def _rewrite_header(path, **changes):
    """Replace header fields of a .petri file in place (as a newer or a tampering writer)."""
    import struct

    blob = path.read_bytes()
    length, magic = struct.unpack("<Q8s", blob[-16:])
    header = json.loads(blob[-16 - length:-16])
    header.update(changes)
    new = json.dumps(header).encode()
    path.write_bytes(blob[:-16 - length] + new + struct.pack("<Q8s", len(new), magic))


def test_newer_corrupt_and_truncated_petri_files_are_refused(tmp_path):
    np.savez(tmp_path / "a.npz", **arrays())
    good, _ = import_dataset(tmp_path / "a.npz", tmp_path / "good.petri")
    blob = good.path.read_bytes()

    newer = tmp_path / "newer.petri"
    newer.write_bytes(blob)
    _rewrite_header(newer, version=2)
    with pytest.raises(DataError, match="newer petri .*upgrade petri"):
        read_header(newer)

    flipped = bytearray(blob)
    flipped[good.arrays["train_x"]["offset"] + 5] ^= 0xFF
    (tmp_path / "flipped.petri").write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="corrupt: its content hash does not match"):
        open_arrays(tmp_path / "flipped.petri")
    relabelled = tmp_path / "relabelled.petri"
    relabelled.write_bytes(blob)
    _rewrite_header(relabelled, classes=["x", "y", "z"])
    with pytest.raises(DataError, match="content hash"):
        open_arrays(relabelled)

    (tmp_path / "cut.petri").write_bytes(blob[:len(blob) // 2])
    with pytest.raises(DataError, match="truncated"):
        read_header(tmp_path / "cut.petri")
    (tmp_path / "other.petri").write_bytes(b"hello" * 10)
    with pytest.raises(DataError, match="not a petri dataset"):
        read_header(tmp_path / "other.petri")


def test_a_source_path_is_imported_once_into_the_data_dir(tmp_path):
    write_folder(tmp_path / "src", {"": 3})
    cfg = DataCfg.from_dict({"dataset": str(tmp_path / "src"), "data_dir": str(tmp_path / "d")})
    made = list((tmp_path / "d" / "imported").glob("src-*.petri"))
    assert [str(p) for p in made] == [cfg.dataset]
    stamp = os.stat(cfg.dataset).st_mtime_ns
    again = DataCfg.from_dict({"dataset": str(tmp_path / "src"), "data_dir": str(tmp_path / "d")})
    assert again.dataset == cfg.dataset and os.stat(cfg.dataset).st_mtime_ns == stamp
    Image.new("RGB", (10, 12)).save(tmp_path / "src" / "cat" / "new.png")  # the source changed
    changed = DataCfg.from_dict({"dataset": str(tmp_path / "src"),
                                 "data_dir": str(tmp_path / "d")})
    assert changed.dataset != cfg.dataset and read_header(changed.dataset).count("train") == 10
    with pytest.raises(DataError, match="unknown dataset 'nope'.*image folder"):
        DataCfg.from_dict({"dataset": "nope"})
    with pytest.raises(DataError, match="gone.npz does not exist"):
        DataCfg.from_dict({"dataset": str(tmp_path / "gone.npz")})


def test_relative_data_paths_are_pinned_for_the_daemon(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pinned = absolute_paths({"dataset": "pets", "data_dir": "cache", "subset": 5})
    assert pinned == {"dataset": str(tmp_path / "pets"), "data_dir": str(tmp_path / "cache"),
                      "subset": 5}
    assert absolute_paths({"dataset": "cifar10"}) == {"dataset": "cifar10"}


def test_streaming_yields_the_same_batches_as_on_device(tmp_path):
    np.savez(tmp_path / "a.npz", **arrays(n_train=200, n_test=30, shape=(3, 8, 8)))
    import_dataset(tmp_path / "a.npz", tmp_path / "d.petri")
    common = dict(dataset=str(tmp_path / "d.petri"), cutout=3, flip=True, val_size=40)
    dev = make_splits(DataCfg.from_dict({**common, "on_device": True}), with_test=True)
    stream = make_splits(DataCfg.from_dict({**common, "on_device": False}), with_test=True)
    assert isinstance(dev.train, DeviceData) and isinstance(stream.train, StreamData)
    assert isinstance(stream.test, StreamData)

    def same(a, b):
        return all(torch.equal(u, v) for u, v in zip(a, b))

    bs = 32  # 160 training images: 5 steps an epoch; read across the epoch boundary
    for epoch, step in [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1),
                        (3, 2), (3, 3), (0, 4)]:  # in order, then a resume and a rewind
        assert same(dev.train.batch(7, epoch, step, bs), stream.train.batch(7, epoch, step, bs))
    assert not same(dev.train.batch(7, 0, 0, bs), dev.train.batch(7, 1, 0, bs))
    for a, b in ((dev.val, stream.val), (dev.test, stream.test)):
        pairs = list(zip(a.eval_batches(16), b.eval_batches(16)))
        assert len(pairs) == -(-len(a) // 16) and all(same(p, q) for p, q in pairs)
    (dw, da), (sw, sa) = dev.train.split(100), stream.train.split(100)
    assert len(sw) == 100 and len(sa) == 60
    assert same(dw.batch(1, 0, 2, 20), sw.batch(1, 0, 2, 20))
    assert same(da.batch(1, 2, 1, 20), sa.batch(1, 2, 1, 20))
