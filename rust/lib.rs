//! `flytecodec._native`: the Rust core of flytecodec. This file registers the module's contents only; each
//! concern lives in its own module: `messages` (the schema table), `wire` (walking and validating the wire
//! format as upb does), `decode` (framing and batch validation across threads), `record` (one record's bytes
//! and reading a field of it), `model` (the model base and its property descriptor), `record_list` (the
//! records of a decoded batch, and `decode_records` that makes them), `rows` (flyteadmin's rows rebuilt as
//! messages), `pgcopy` (PostgreSQL's binary COPY stream, where those rows come from on the native backend),
//! `values` (Python values), `columns` and `export` (Arrow columns for `Batch.to_arrow`), `nested` (the nested
//! layout for `Batch.to_arrow(layout="nested")`), `errors` (DecodeError, panics as InternalError).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod canonical;
pub mod columns;
pub mod decode;
pub mod errors;
pub mod export;
pub mod messages;
pub mod model;
pub mod nested;
pub mod nested_import;
pub mod pgcopy;
pub mod record;
pub mod record_list;
pub mod rows;
pub mod schema;
pub mod values;
pub mod wire;

use pyo3::prelude::*;

use model::{ModelBase, NativeProperty};
use record_list::{ModelIter, RecordList};

/// Hex digest (64-bit FNV-1a) of the flyteidl FileDescriptorSet this extension was built from.
#[pyfunction]
fn schema_digest() -> String {
    schema::digest_hex()
}

/// `gil_used = true`: a free-threaded interpreter turns the GIL back on when importing the extension, and the
/// import fails where it was told to keep it off (docs/free-threading.md: `ModelBase` changes its state in
/// place with the GIL as its only lock).
#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    model::require_gil(m.py())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("flyteidl_version", schema::FLYTEIDL_VERSION)?;
    m.add_function(wrap_pyfunction!(schema_digest, m)?)?;
    m.add_function(wrap_pyfunction!(record_list::decode_records, m)?)?;
    m.add_function(wrap_pyfunction!(model::read_message, m)?)?;
    m.add_function(wrap_pyfunction!(rows::rebuild_rows, m)?)?;
    m.add_function(wrap_pyfunction!(canonical::py_canonical, m)?)?;
    m.add_function(wrap_pyfunction!(nested_import::nested_to_records, m)?)?;
    m.add_class::<export::ArrowBatch>()?;
    m.add_class::<pgcopy::CopyStream>()?;
    m.add_class::<pgcopy::CopyRows>()?;
    m.add_class::<NativeProperty>()?;
    m.add_class::<ModelBase>()?;
    m.add_class::<ModelIter>()?;
    m.add_class::<RecordList>()?;
    Ok(())
}
