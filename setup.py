"""Packaging for petri: one installable package whose sub-packages live in three folders.

`cli/` and `store/` are mapped into `petri.cli` and `petri.store`, and `configs/` into
`petri.configs` (package data, so `petri run` finds the shipped configs from any directory);
nothing named `cli`, `store` or `configs` lands at the top of site-packages.
"""
from setuptools import find_packages, setup

PACKAGES = {p: p.replace(".", "/") for p in find_packages(include=["petri", "petri.*"])}
DOCS = ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocs-click>=0.8", "mkdocstrings[python]>=0.26"]
PACKAGES.update({"petri.cli": "cli", "petri.store": "store", "petri.configs": "configs"})

setup(
    name="petri",
    version="0.1.0",
    description="A neural-architecture-search workbench: Pareto frontiers of error against cost",
    python_requires=">=3.10",
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    # Each algorithm folder ships the tiny config its tests run (AlgoInfo.test_config).
    package_data={"petri.store": ["schema.sql"], "petri.configs": ["*.yaml"],
                  **{p: ["*.yaml"] for p in PACKAGES if p.startswith("petri.algos.")}},
    install_requires=[
        "torch>=2.3",
        "numpy",
        "click>=8.1",
        "rich>=13",
        "h5py>=3.8",
        "nvidia-ml-py>=12",
        "pyyaml>=6",
        "plotext>=5.2",
        "Pillow>=9.1",  # decodes users' images in `petri data import`
        # `petri export --format safetensors`: a wheel of its own with no dependencies, and
        # the weights format timm and the Hub load, so it costs nothing to have it always.
        "safetensors>=0.4",
    ],
    extras_require={
        # fvcore is the independent MAC counter the cost tests compare against; pexpect drives
        # `petri watch` in a pty; matplotlib lets the tests exercise `petri plot`; onnx and
        # onnxruntime let them export to ONNX and run the file without petri; the docs
        # packages let them build the site strictly (tests/docs).
        "test": ["pytest>=7", "fvcore", "pexpect", "matplotlib", "tensorboard", "onnx>=1.16",
                 "onnxscript", "onnxruntime", "ray>=2.9", *DOCS],
        # `make docs`: the site (mkdocs.yml), its CLI page from click, its API page from the
        # docstrings.
        "docs": DOCS,
        # `daemon.executor: ray`: the workers run as Ray actors on a cluster (the tests run a
        # real multi-node Ray on one machine, so the test extra has it too).
        "ray": ["ray>=2.9"],
        # `petri export --format onnx`: torch's exporter (torch.export) writes through
        # onnxscript, which checks the graph with onnx; onnxruntime runs the files (README).
        "onnx": ["onnx>=1.16", "onnxscript", "onnxruntime"],
        # Per-job TensorBoard event files (petri.train.scalars); without it none are written.
        "tensorboard": ["tensorboard"],
        "vision": ["torchvision"],
        "plot": ["matplotlib"],
    },
    entry_points={"console_scripts": ["petri=petri.cli.main:main"]},
)
