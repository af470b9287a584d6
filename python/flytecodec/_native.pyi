"""Type stubs for ``flytecodec._native``, the Rust extension module (sources under ``rust/``)."""

__version__: str
"""Version of the Rust crate the extension was built from."""

flyteidl_version: str
"""Version of the flyteidl package whose descriptors the extension's types were generated from."""

def schema_digest() -> str:
    """16 lowercase hex digits: 64-bit FNV-1a of the embedded ``schema/flyteidl.binpb``."""
