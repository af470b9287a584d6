//! [`NativeProperty`]: the class attribute behind a model property, with its `__get__` in Rust.
//!
//! It is a non-data descriptor, as the python backend's: the first read converts the field from the
//! model's source and stores the value in the instance `__dict__`, where every later read finds it
//! without calling the descriptor. A source is a `NativeRecord` (read here, or through protobuf for the
//! shapes Rust leaves to it) or a protobuf message (read by the Python reader the model machinery makes).
//! The models themselves stay defined once, in Python: this type only replaces the per-field getter.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};

use crate::records::{object_new, Elem, NativeField, NativeRecord};

#[pyclass(frozen, module = "flytecodec._native")]
pub struct NativeProperty {
    name: Py<PyString>,
    doc: String,
    /// How Rust reads the field from a record; `None` when the shape is left to protobuf.
    field: Option<NativeField>,
    /// `() -> model class`, for a sub-message field; resolved on first use.
    resolve_model: Option<Py<PyAny>>,
    model: PyOnceLock<Py<PyAny>>,
    /// `() -> (protobuf message -> value)`, resolved on first use.
    make_pb_reader: Py<PyAny>,
    pb_reader: PyOnceLock<Py<PyAny>>,
    /// `() -> (NativeRecord -> value)`, for shapes Rust leaves to protobuf; resolved on first use.
    make_native_reader: Py<PyAny>,
    native_reader: PyOnceLock<Py<PyAny>>,
    /// The setter of the models' `_src` slot.
    set_src: Py<PyAny>,
}

impl NativeProperty {
    fn resolved<'py>(
        py: Python<'py>,
        cell: &PyOnceLock<Py<PyAny>>,
        make: &Py<PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = cell.get_or_try_init(py, || make.call0(py))?;
        Ok(value.bind(py).clone())
    }

    fn read_record<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, NativeRecord>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Some(field) = &self.field else {
            let read = Self::resolved(py, &self.native_reader, &self.make_native_reader)?;
            return read.call1((record,));
        };
        let value = record.get().read(py, field)?;
        if field.elem != Elem::Model || value.is_none() {
            return Ok(value);
        }
        let resolve = self.resolve_model.as_ref().ok_or_else(|| {
            pyo3::exceptions::PyTypeError::new_err("a sub-message property needs its model class")
        })?;
        let cls = Self::resolved(py, &self.model, resolve)?;
        let model = object_new(py)?.call1((&cls,))?;
        self.set_src.bind(py).call1((&model, value))?;
        Ok(model)
    }
}

#[pymethods]
impl NativeProperty {
    #[new]
    #[pyo3(signature = (name, doc, spec, resolve_model, make_pb_reader, make_native_reader, set_src))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: Bound<'_, PyString>,
        doc: String,
        spec: Option<(String, u32, String, String)>,
        resolve_model: Option<Py<PyAny>>,
        make_pb_reader: Py<PyAny>,
        make_native_reader: Py<PyAny>,
        set_src: Py<PyAny>,
    ) -> PyResult<Self> {
        let field = match spec {
            Some((message, number, elem, absent)) => {
                Some(NativeField::new(&message, number, &elem, &absent)?)
            }
            None => None,
        };
        Ok(NativeProperty {
            name: name.unbind(),
            doc,
            field,
            resolve_model,
            model: PyOnceLock::new(),
            make_pb_reader,
            pb_reader: PyOnceLock::new(),
            make_native_reader,
            native_reader: PyOnceLock::new(),
            set_src,
        })
    }

    #[getter(__doc__)]
    fn doc(&self) -> &str {
        &self.doc
    }

    #[getter]
    fn name<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        self.name.bind(py).clone()
    }

    fn __get__<'py>(
        slf: &Bound<'py, Self>,
        obj: Option<&Bound<'py, PyAny>>,
        _owner: Option<&Bound<'py, PyType>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::errors::guard(slf.py(), || Self::get(slf, obj))
    }
}

impl NativeProperty {
    fn get<'py>(
        slf: &Bound<'py, Self>,
        obj: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(slf.clone().into_any());
        };
        let this = slf.get();
        let src = obj.getattr(intern!(py, "_src"))?;
        let value = if src.is_none() {
            src
        } else if let Ok(record) = src.cast::<NativeRecord>() {
            this.read_record(py, record)?
        } else {
            let read = Self::resolved(py, &this.pb_reader, &this.make_pb_reader)?;
            read.call1((src,))?
        };
        let dict = obj.getattr(intern!(py, "__dict__"))?;
        dict.cast::<PyDict>()?
            .set_item(this.name.bind(py), &value)?;
        Ok(value)
    }
}
