"""The committed schema/ must match the pinned, installed flyteidl, and so must the extension."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "schema"


def _load_export_script() -> ModuleType:
    path = REPO_ROOT / "scripts" / "export_descriptors.py"
    spec = importlib.util.spec_from_file_location("_flytecodec_export_descriptors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def export() -> ModuleType:
    return _load_export_script()


def _pinned_flyteidl() -> str:
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pins = re.findall(r'"flyteidl==([^"]+)"', text)
    assert len(pins) == 1, f"expected exactly one flyteidl==X pin in pyproject.toml, found {pins}"
    return pins[0]


def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def test_descriptor_set_matches_installed_flyteidl(export: ModuleType) -> None:
    committed = (SCHEMA_DIR / "flyteidl.binpb").read_bytes()
    assert committed == export.build_descriptor_set(), (
        "schema/flyteidl.binpb differs from the installed flyteidl; run scripts/export_descriptors.py"
    )
    ok, problems = export.check()
    assert ok, problems


def test_export_is_deterministic(export: ModuleType) -> None:
    assert export.build_descriptor_set() == export.build_descriptor_set()


def test_check_detects_a_modified_byte(export: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray((SCHEMA_DIR / "flyteidl.binpb").read_bytes())
    data[len(data) // 2] ^= 0x01
    drifted = tmp_path / "flyteidl.binpb"
    drifted.write_bytes(bytes(data))
    version = tmp_path / "VERSION"
    version.write_bytes((SCHEMA_DIR / "VERSION").read_bytes())
    monkeypatch.setattr(export, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(export, "DESCRIPTORS_PATH", drifted)
    monkeypatch.setattr(export, "VERSION_PATH", version)

    ok, problems = export.check()
    assert not ok
    assert any("flyteidl.binpb" in p and f"byte {len(data) // 2}" in p for p in problems), problems
    assert export.main(["--check"]) == 1

    version.write_text("0.0.0\n")
    drifted.write_bytes(export.build_descriptor_set())
    ok, problems = export.check()
    assert not ok and len(problems) == 1 and "VERSION" in problems[0], problems


def test_schema_covers_the_execution_files() -> None:
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString((SCHEMA_DIR / "flyteidl.binpb").read_bytes())
    names = [f.name for f in fds.file]
    seen: set[str] = set()
    for f in fds.file:
        missing = [d for d in f.dependency if d not in seen]
        assert not missing, f"{f.name} comes before its dependencies {missing}"
        seen.add(f.name)
    for wanted in (
        "flyteidl/admin/execution.proto",
        "flyteidl/admin/node_execution.proto",
        "flyteidl/admin/task_execution.proto",
    ):
        assert wanted in names


def _version_in(path: str, pattern: str) -> str:
    found = re.findall(pattern, (REPO_ROOT / path).read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert found, f"no version in {path}"
    return found[0]


def test_crate_and_package_versions_agree() -> None:
    assert _version_in("Cargo.toml", r'^version = "([^"]+)"') == _version_in("pyproject.toml", r'^version = "([^"]+)"')


def test_version_file_matches_installed_and_pinned_flyteidl() -> None:
    committed = (SCHEMA_DIR / "VERSION").read_text(encoding="ascii")
    assert committed.endswith("\n") and committed.count("\n") == 1
    committed = committed.strip()
    assert committed == importlib.metadata.version("flyteidl")
    assert committed == _pinned_flyteidl()


def test_native_extension_matches_schema() -> None:
    try:
        from flytecodec import _native
    except ModuleNotFoundError as exc:  # the extension is not built in this environment
        if exc.name not in ("flytecodec", "flytecodec._native"):
            raise
        pytest.skip(f"flytecodec._native not importable: {exc}")
    assert _native.flyteidl_version == (SCHEMA_DIR / "VERSION").read_text(encoding="ascii").strip()
    expected = f"{_fnv1a64((SCHEMA_DIR / 'flyteidl.binpb').read_bytes()):016x}"
    assert _native.schema_digest() == expected, "the installed extension was built from a different schema"
    assert _native.__version__ == _version_in("Cargo.toml", r'^version = "([^"]+)"')
