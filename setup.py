"""Packaging for petri: one installable package whose sub-packages live in three folders.

`cli/` and `store/` are mapped into `petri.cli` and `petri.store`, so nothing named `cli` or
`store` lands at the top of site-packages.
"""
from setuptools import setup

PACKAGES = {
    "petri": "petri",
    "petri.space": "petri/space",
    "petri.data": "petri/data",
    "petri.train": "petri/train",
    "petri.daemon": "petri/daemon",
    "petri.algos": "petri/algos",
    "petri.cli": "cli",
    "petri.store": "store",
}

setup(
    name="petri",
    version="0.1.0",
    description="A neural-architecture-search workbench: Pareto frontiers of error against cost",
    python_requires=">=3.10",
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={"petri.store": ["schema.sql"]},
    install_requires=[
        "torch>=2.3",
        "numpy",
        "click>=8.1",
        "rich>=13",
        "filelock>=3.12",
        "h5py>=3.8",
        "nvidia-ml-py>=12",
        "pyyaml>=6",
        "plotext>=5.2",
    ],
    extras_require={
        # fvcore is the independent MAC counter the cost tests compare against; pexpect drives
        # `petri watch` in a pty; matplotlib lets the tests exercise `petri plot`.
        "test": ["pytest>=7", "fvcore", "pexpect", "matplotlib"],
        "vision": ["torchvision"],
        "plot": ["matplotlib"],
    },
    entry_points={"console_scripts": ["petri=petri.cli.main:main"]},
)
