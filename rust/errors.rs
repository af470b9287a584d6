//! Decode failures become `flytecodec.DecodeError`, the exception the python backend raises, with the
//! same `index`, `offset` and `model`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::decode::DecodeFailure;

/// A `flytecodec.exceptions.DecodeError` for `failure` while decoding `model` messages.
pub fn decode_error(py: Python<'_>, model: &str, failure: &DecodeFailure) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = py.import("flytecodec.exceptions")?.getattr("DecodeError")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("index", failure.index)?;
        kwargs.set_item("offset", failure.offset)?;
        kwargs.set_item("model", model)?;
        let error = class.call((failure.reason.as_str(),), Some(&kwargs))?;
        Ok(PyErr::from_value(error))
    };
    build().unwrap_or_else(|e| e)
}
