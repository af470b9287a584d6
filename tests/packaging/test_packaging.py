"""The package's metadata and build backend: what an index and a user without Rust see.

The wheels themselves are built and smoke-tested by scripts/build_wheels.sh and scripts/test_wheels.sh.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import flytecodec

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_one_version_in_pep440_form():
    from packaging.version import Version

    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    assert PROJECT["version"] == cargo == flytecodec.__version__
    assert str(Version(cargo)) == cargo  # already in PEP 440 normal form


def test_a_classifier_and_a_wheel_for_each_supported_python():
    minimum = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert minimum
    classified = sorted(
        int(c.rsplit(".", 1)[1])
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    built = re.search(r"for minor in ([\d ]+); do", (ROOT / "scripts" / "build_wheels.sh").read_text())
    assert built
    assert classified == list(range(int(minimum.group(1)), 14))
    assert [int(m) for m in built.group(1).split()] == classified


def test_license_typed_readme_and_urls():
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert (ROOT / "python" / "flytecodec" / "py.typed").exists()
    assert PROJECT["readme"] == "README.md"
    assert all(url.startswith("https://") for url in PROJECT["urls"].values())


def test_every_extra_is_documented_in_the_readme():
    install = (ROOT / "README.md").read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
    for extra in PROJECT["optional-dependencies"]:
        assert f"`{extra}`" in install, extra


def _run_backend_hook(env: dict[str, str]) -> subprocess.CompletedProcess:
    """get_requires_for_build_wheel of the build backend, in a fresh interpreter with the given environment."""
    code = (
        "import sys, os; sys.path.insert(0, 'build_backend'); import flytecodec_build as b; "
        "print(b.get_requires_for_build_wheel(), os.environ.get('MATURIN_NO_INSTALL_RUST'))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def _without_cargo(tmp_path: Path) -> dict[str, str]:
    """The environment with PATH reduced to the interpreter's directory and an empty one: no cargo."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FLYTECODEC_DOWNLOAD_RUST", "MATURIN_NO_INSTALL_RUST")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{empty}"
    return env


def test_build_without_cargo_stops_with_a_clear_message(tmp_path):
    pytest.importorskip("maturin")
    env = _without_cargo(tmp_path)
    if any((Path(d) / "cargo").exists() for d in env["PATH"].split(os.pathsep)):
        pytest.skip("cargo is beside the interpreter")
    result = _run_backend_hook(env)
    assert result.returncode == 1
    assert "flytecodec: building from source needs a Rust toolchain, and no `cargo` is on PATH." in result.stderr
    assert "install a wheel" in result.stderr
    assert "installing into a temporary directory" not in result.stdout + result.stderr


def test_build_without_cargo_downloads_only_when_asked(tmp_path):
    pytest.importorskip("maturin")
    env = _without_cargo(tmp_path)
    env["FLYTECODEC_DOWNLOAD_RUST"] = "1"
    result = _run_backend_hook(env)
    # maturin's own behaviour: it asks for the package that downloads a toolchain (nothing is downloaded here)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['puccinialin'] None"


def test_build_with_cargo_goes_on_without_the_download():
    pytest.importorskip("maturin")
    env = {k: v for k, v in os.environ.items() if k != "FLYTECODEC_DOWNLOAD_RUST"}
    if not any((Path(d) / "cargo").exists() for d in env.get("PATH", "").split(os.pathsep)):
        pytest.skip("no cargo on PATH")
    result = _run_backend_hook(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] 1"
