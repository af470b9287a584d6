//! Decode failures become `flytecodec.DecodeError`, the exception the python backend raises, with the
//! same `index`, `offset` and `model`; a panic becomes `flytecodec.InternalError`, never a
//! `pyo3_runtime.PanicException`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::decode::DecodeFailure;
use crate::messages;

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

/// The index of message `name` (a proto full name) in the schema; `ValueError` when it has none.
pub fn message_index(name: &str) -> PyResult<usize> {
    messages::schema()
        .find(name)
        .ok_or_else(|| PyValueError::new_err(format!("unknown message {name}")))
}

/// Run `f`, turning a panic into `flytecodec.InternalError`: every entry point from Python goes through it.
pub fn guard<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(internal_error(py, payload.as_ref())))
}

fn internal_error(py: Python<'_>, payload: &(dyn Any + Send)) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    let message =
        format!("internal error in flytecodec's native backend (a bug: please report it): {what}");
    py.import("flytecodec.exceptions")
        .and_then(|m| m.getattr("InternalError"))
        .and_then(|class| class.call1((message.as_str(),)))
        .map(PyErr::from_value)
        .unwrap_or_else(|_| PyRuntimeError::new_err(message))
}

#[cfg(test)]
mod tests {
    use super::guard;
    use pyo3::prelude::*;

    #[test]
    fn a_panic_becomes_an_error() {
        Python::initialize();
        Python::attach(|py| {
            let result: PyResult<()> = guard(py, || panic!("boom"));
            let err = result.expect_err("the panic is an error");
            assert!(err.to_string().contains("boom"));
            assert!(guard(py, || Ok(1)).is_ok());
        });
    }
}
