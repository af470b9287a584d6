//! `flytecodec._native`: the Rust core of flytecodec. This file is module glue only; each concern
//! lives in its own module.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod generated;
pub mod schema;

use pyo3::prelude::*;

/// Hex digest (64-bit FNV-1a) of the flyteidl FileDescriptorSet this extension was built from.
#[pyfunction]
fn schema_digest() -> String {
    schema::digest_hex()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("flyteidl_version", schema::FLYTEIDL_VERSION)?;
    m.add_function(wrap_pyfunction!(schema_digest, m)?)?;
    Ok(())
}
