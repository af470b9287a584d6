//! The records of a decoded batch: [`decode_records`] (input split and validated into records), a
//! [`RecordList`] (the record source of a native `Batch`: its records' spans in the input buffers, each
//! made into a model on demand, and their Arrow columns) and a [`ModelIter`] over its models.

use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::columns::{ColumnSpec, Leaf, Plan};
use crate::decode::{
    self, default_threads, frame_and_validate, validate_all, whole_spans, Checked, DecodeFailure,
    Framing, Span,
};
use crate::errors::{self, guard, message_index};
use crate::export::{self, ArrowBatch};
use crate::messages::{self, schema};
use crate::model::{new_model, ModelClass, Source};
use crate::nested;
use crate::record::Record;
use crate::wire;

/// Split and validate `data` as records of `message` (a proto full name) without holding the GIL.
///
/// `data` is bytes for the `list`, `delimited` and `message` framings, or a list of bytes for
/// `sequence`. Returns the records and the page token (`""` unless `list`). Bad input raises
/// `flytecodec.DecodeError` with the same index and offset as the python backend.
#[pyfunction]
#[pyo3(signature = (message, data, framing, list_records = 1, list_token = 2, threads = None))]
pub fn decode_records(
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
            let spans = whole_spans(buffers.iter().map(|b| b.as_bytes().len()));
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

/// The records of a decoded batch: the record source of a native `Batch`, which makes each record's model
/// on demand (the batch keeps the ones it hands out by index).
#[pyclass(frozen, sequence, module = "flytecodec._native")]
pub struct RecordList {
    buffers: Vec<Py<PyBytes>>,
    spans: Vec<Span>,
}

impl RecordList {
    pub fn new(buffers: Vec<Py<PyBytes>>, spans: Vec<Span>) -> Self {
        RecordList { buffers, spans }
    }

    fn span(&self, index: isize) -> PyResult<Span> {
        let len = self.spans.len() as isize;
        let i = if index < 0 { index + len } else { index };
        if i < 0 || i >= len {
            return Err(PyIndexError::new_err("record index out of range"));
        }
        Ok(self.spans[i as usize])
    }

    fn record(&self, py: Python<'_>, index: isize) -> PyResult<Record> {
        let span = self.span(index)?;
        let buffer = self.buffers[span.buffer].clone_ref(py);
        Ok(Record::whole(buffer, span.start, span.end, true))
    }

    fn bytes_at<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyBytes>> {
        let span = self.span(index)?;
        let buffer = self.buffers[span.buffer].bind(py);
        if span.start == 0 && span.end == buffer.as_bytes().len() {
            return Ok(buffer.clone());
        }
        Ok(PyBytes::new(py, &buffer.as_bytes()[span.start..span.end]))
    }
}

#[pymethods]
impl RecordList {
    fn __len__(&self) -> usize {
        self.spans.len()
    }

    /// A new model of class `cls` (a model class) over record `index`.
    fn model<'py>(
        &self,
        py: Python<'py>,
        index: isize,
        cls: &Bound<'py, PyType>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            new_model(cls, Source::Record(self.record(py, index)?))
        })
    }

    /// The models of every record in order: those in `kept` (position -> model) as they are, the others
    /// made for the iteration.
    fn models(
        slf: &Bound<'_, Self>,
        cls: &Bound<'_, PyType>,
        kept: &Bound<'_, PyDict>,
    ) -> PyResult<ModelIter> {
        Ok(ModelIter {
            records: slf.clone().unbind(),
            cls: ModelClass::new(cls)?,
            kept: kept.clone().unbind(),
            next: AtomicUsize::new(0),
        })
    }

    /// The records at `indices`, sharing this list's buffers.
    fn take(&self, py: Python<'_>, indices: Vec<isize>) -> PyResult<RecordList> {
        guard(py, || {
            let spans = indices
                .into_iter()
                .map(|i| self.span(i))
                .collect::<PyResult<Vec<Span>>>()?;
            let buffers = self.buffers.iter().map(|b| b.clone_ref(py)).collect();
            Ok(RecordList::new(buffers, spans))
        })
    }

    /// The columns `specs` (`(name, field numbers, kind, enum numbers)`, with the enum value names in
    /// `enum_names`) of every record of `message`, built without the GIL: one `ArrowBatch` per thread used
    /// (`threads`: all cores by default).
    #[pyo3(signature = (message, specs, enum_names, threads = None))]
    fn arrow_columns(
        &self,
        py: Python<'_>,
        message: &str,
        specs: Vec<(String, Vec<u32>, String, Vec<i32>)>,
        enum_names: Vec<Vec<String>>,
        threads: Option<usize>,
    ) -> PyResult<Vec<ArrowBatch>> {
        guard(py, || {
            let s = schema();
            let root = message_index(message)?;
            let columns = specs
                .into_iter()
                .zip(enum_names)
                .map(|((name, path, kind, numbers), names)| {
                    Ok(ColumnSpec {
                        leaf: Leaf::parse(&kind, numbers, names)?,
                        name,
                        path,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(PyValueError::new_err)?;
            let plan = Plan::new(s, root, columns).map_err(PyValueError::new_err)?;
            let buffers: Vec<&[u8]> = self.buffers.iter().map(|b| b.as_bytes(py)).collect();
            let threads = threads.unwrap_or_else(default_threads);
            py.detach(|| export::build(&plan, &buffers, &self.spans, threads))
                .map_err(PyValueError::new_err)
        })
    }

    /// The nested layout of every record (`plan`: `flytecodec.layout.plan()` of the records' message), built
    /// without the GIL: one `ArrowBatch` per thread used (`threads`: all cores by default), in order, each
    /// with the layout's schema.
    #[pyo3(signature = (plan, threads = None))]
    fn arrow_nested(
        &self,
        py: Python<'_>,
        plan: &Bound<'_, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Vec<ArrowBatch>> {
        guard(py, || {
            let plan = nested::plan_of(plan)?;
            let buffers: Vec<&[u8]> = self.buffers.iter().map(|b| b.as_bytes(py)).collect();
            let threads = threads.unwrap_or_else(default_threads);
            py.detach(|| nested::build(&plan, &buffers, &self.spans, threads))
                .map_err(PyValueError::new_err)
        })
    }

    /// The bytes record `index` was decoded from.
    fn raw<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyBytes>> {
        guard(py, || self.bytes_at(py, index))
    }
}

/// Iterates a [`RecordList`]'s models (see [`RecordList::models`]).
#[pyclass(frozen, module = "flytecodec._native")]
pub struct ModelIter {
    records: Py<RecordList>,
    cls: ModelClass,
    kept: Py<PyDict>,
    next: AtomicUsize,
}

#[pymethods]
impl ModelIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(py, || {
            let records = self.records.get();
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= records.spans.len() {
                return Ok(None);
            }
            let kept = self.kept.bind(py);
            if !kept.is_empty() {
                if let Some(found) = kept.get_item(i)? {
                    return Ok(Some(found));
                }
            }
            self.cls
                .instance(py, Source::Record(records.record(py, i as isize)?))
                .map(Some)
        })
    }
}
