//! `flytecodec._native`: the Rust core of flytecodec. This file is module glue only; each concern
//! lives in its own module: `messages` (the schema table), `wire` (validation as upb does it), `decode`
//! (framing and batch validation across threads), `records` (record lists and lazy field reading), `model`
//! (the model base and its property descriptor), `rows` (flyteadmin's rows rebuilt as messages), `values` (Python values), `columns` and `export` (Arrow columns for `Batch.to_arrow`),
//! `errors` (DecodeError).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod columns;
pub mod decode;
pub mod errors;
pub mod export;
pub mod messages;
pub mod model;
pub mod records;
pub mod rows;
pub mod schema;
pub mod values;
pub mod wire;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use decode::{
    default_threads, frame_and_validate, validate_all, Checked, DecodeFailure, Framing, Span,
};
use model::{ModelBase, NativeProperty};
use records::{ModelIter, RecordList};

/// Hex digest (64-bit FNV-1a) of the flyteidl FileDescriptorSet this extension was built from.
#[pyfunction]
fn schema_digest() -> String {
    schema::digest_hex()
}

/// Split and validate `data` as records of `message` (a proto full name) without holding the GIL.
///
/// `data` is bytes for the `list`, `delimited` and `message` framings, or a list of bytes for
/// `sequence`. Returns the records and the page token (`""` unless `list`). Bad input raises
/// `flytecodec.DecodeError` with the same index and offset as the python backend.
#[pyfunction]
#[pyo3(signature = (message, data, framing, list_records = 1, list_token = 2, threads = None))]
fn decode_records(
    py: Python<'_>,
    message: &str,
    data: &Bound<'_, PyAny>,
    framing: &str,
    list_records: u32,
    list_token: u32,
    threads: Option<usize>,
) -> PyResult<(RecordList, String)> {
    errors::guard(py, || {
        let s = messages::schema();
        let index = message_index(message)?;
        let threads = threads.unwrap_or_else(default_threads);
        if framing == "sequence" {
            let items = data.cast::<PyList>()?;
            let buffers: Vec<Bound<'_, PyBytes>> = items
                .iter()
                .map(|item| item.cast_into::<PyBytes>().map_err(PyErr::from))
                .collect::<PyResult<_>>()?;
            let spans: Vec<Span> = buffers
                .iter()
                .enumerate()
                .map(|(i, b)| Span {
                    buffer: i,
                    start: 0,
                    end: b.as_bytes().len(),
                    offset: 0,
                })
                .collect();
            return Ok((
                sequence_records(py, message, buffers, spans, threads)?,
                String::new(),
            ));
        }
        let framing = match framing {
            "list" => Framing::List {
                records: list_records,
                token: list_token,
            },
            "delimited" => Framing::Delimited,
            "message" => Framing::Message,
            other => return Err(PyValueError::new_err(format!("unknown framing {other:?}"))),
        };
        let buffer = data
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("decode_records needs bytes for this framing"))?;
        let bytes = buffer.as_bytes();
        let (framed, checked) = py.detach(|| frame_and_validate(s, index, bytes, framing, threads));
        if let Some(failure) = first_failure(s, index, bytes, framing, &framed, checked) {
            return Err(errors::decode_error(py, message, &failure));
        }
        let records = RecordList::new(vec![buffer.clone().unbind()], framed.spans);
        Ok((records, framed.token))
    })
}

fn message_index(message: &str) -> PyResult<usize> {
    messages::schema()
        .find(message)
        .ok_or_else(|| PyValueError::new_err(format!("unknown message {message}")))
}

/// The records `spans` of `buffers` (one record per item of a sequence: offset 0), each validated as
/// `message` standing alone; the first invalid one is a DecodeError with its index.
pub(crate) fn sequence_records(
    py: Python<'_>,
    message: &str,
    buffers: Vec<Bound<'_, PyBytes>>,
    spans: Vec<Span>,
    threads: usize,
) -> PyResult<RecordList> {
    let index = message_index(message)?;
    let slices: Vec<&[u8]> = buffers.iter().map(|b| b.as_bytes()).collect();
    let checked = py.detach(|| validate_all(messages::schema(), index, &slices, &spans, threads));
    if let Checked::Invalid { index: i, error } = checked {
        let failure = DecodeFailure {
            index: i,
            offset: 0,
            reason: error.reason.to_string(),
        };
        return Err(errors::decode_error(py, message, &failure));
    }
    let owned = buffers.into_iter().map(Bound::unbind).collect();
    Ok(RecordList::new(owned, spans))
}

/// Which failure the python backend reports first for this framing (see `decode`'s module docs).
fn first_failure(
    schema: &messages::Schema,
    message: usize,
    bytes: &[u8],
    framing: Framing,
    framed: &decode::Framed,
    checked: Checked,
) -> Option<DecodeFailure> {
    // the records before `invalid_at` are valid alone; `could_be_too_deep`: one of them may nest as deep as
    // the limit (the records validated after the first invalid one do not say how deep they went)
    let (invalid_at, invalid, could_be_too_deep) = match checked {
        Checked::Invalid { index, error } => {
            let failure = DecodeFailure {
                index,
                offset: framed.spans[index].offset,
                reason: error.reason.to_string(),
            };
            (index, Some(failure), true)
        }
        Checked::Valid { deepest } => (framed.spans.len(), None, deepest >= wire::MAX_DEPTH),
    };
    // a record of a list is one level below its *List message: too deep there, though valid alone; the
    // first such record before the first invalid one is the failure (found again on this error path only)
    let too_deep = if matches!(framing, Framing::List { .. }) && could_be_too_deep {
        decode::first_too_deep(schema, message, bytes, &framed.spans[..invalid_at]).map(|index| {
            DecodeFailure {
                index,
                offset: framed.spans[index].offset,
                reason: format!("{} inside the list", wire::TOO_DEEP),
            }
        })
    } else {
        None
    };
    let record_failure = too_deep.or(invalid);
    match framing {
        Framing::Delimited => framed.failure.clone().or(record_failure),
        _ => record_failure.or_else(|| framed.failure.clone()),
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("flyteidl_version", schema::FLYTEIDL_VERSION)?;
    m.add_function(wrap_pyfunction!(schema_digest, m)?)?;
    m.add_function(wrap_pyfunction!(decode_records, m)?)?;
    m.add_function(wrap_pyfunction!(model::read_message, m)?)?;
    m.add_function(wrap_pyfunction!(rows::rebuild_executions, m)?)?;
    m.add_class::<export::ArrowBatch>()?;
    m.add_class::<NativeProperty>()?;
    m.add_class::<ModelBase>()?;
    m.add_class::<ModelIter>()?;
    m.add_class::<RecordList>()?;
    Ok(())
}
