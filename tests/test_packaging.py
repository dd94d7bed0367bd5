"""Packaging metadata that installs quietly: the licence as an SPDX expression (not the deprecated table) and
every directory named in package-data discovered as a package (else setuptools warns once per directory)."""
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "Apache-2.0"
    assert any(r.startswith("setuptools>=77") for r in meta["build-system"]["requires"])  # SPDX support


def test_every_package_data_directory_is_a_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    find = cfg["packages"]["find"]
    found = set(find_namespace_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ())))
    for package, patterns in cfg["package-data"].items():
        assert package in found
        for pattern in patterns:
            parts = pattern.split("/")[:-1]
            dirs = [d for d in (ROOT / package).glob("/".join(parts)) if d.is_dir()] if parts else []
            for d in dirs:
                if "__pycache__" in d.parts:
                    continue
                dotted = ".".join(d.relative_to(ROOT).parts)
                assert dotted in found, f"{dotted} holds package data but is not a package"
