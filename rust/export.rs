//! Columns across threads, and out to Python through the Arrow PyCapsule protocol: the record batches
//! `Batch.to_arrow()` hands to `pyarrow.record_batch()` (or any consumer of `__arrow_c_array__`).

use std::sync::Arc;

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{Array, RecordBatch, StructArray};
use arrow_data::ArrayData;
use arrow_schema::Schema;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::columns::Plan;
use crate::decode::Span;

/// Fewer records than this per thread are built on one thread.
const MIN_ROWS_PER_THREAD: usize = 4096;

/// One record batch, exported through the Arrow C data interface as a struct array: the flat columns'
/// (`export::build`) or the nested layout's (`nested::build`).
#[pyclass(frozen, module = "flytecodec._native")]
pub struct ArrowBatch {
    data: ArrayData,
    /// The schema it goes out with, when it has metadata to carry (the nested layout's enum names and
    /// message); otherwise the struct type of `data` is its schema.
    schema: Option<Arc<Schema>>,
}

impl ArrowBatch {
    pub fn new(data: ArrayData, schema: Option<Arc<Schema>>) -> ArrowBatch {
        ArrowBatch { data, schema }
    }

    /// The batch's struct array.
    pub fn into_data(self) -> ArrayData {
        self.data
    }

    /// Its number of rows.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

#[pymethods]
impl ArrowBatch {
    /// The Arrow PyCapsule protocol: `(schema capsule, array capsule)`. `requested_schema` is ignored (the
    /// columns have one type each).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let schema = match &self.schema {
            Some(schema) => FFI_ArrowSchema::try_from(schema.as_ref()),
            None => FFI_ArrowSchema::try_from(self.data.data_type()),
        }
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        let array = FFI_ArrowArray::new(&self.data);
        Ok((
            PyCapsule::new_with_value(py, schema, c"arrow_schema")?,
            PyCapsule::new_with_value(py, array, c"arrow_array")?,
        ))
    }

    fn __len__(&self) -> usize {
        self.len()
    }
}

/// The columns of the records at `spans` (in `buffers`), as one batch per thread used (at least one).
pub fn build(
    plan: &Plan,
    buffers: &[&[u8]],
    spans: &[Span],
    threads: usize,
) -> Result<Vec<ArrowBatch>, String> {
    let threads = threads.clamp(1, spans.len() / MIN_ROWS_PER_THREAD + 1);
    let size = spans.len().div_ceil(threads).max(1);
    let chunk = |first: usize, part: &[Span]| -> Result<RecordBatch, String> {
        let mut builders = plan.builders(part.len());
        let mut scratch = plan.scratch();
        for (i, span) in part.iter().enumerate() {
            let parts = [(span.start, span.end)];
            plan.append(
                buffers[span.buffer],
                &parts,
                &mut builders,
                &mut scratch,
                first + i,
            )?;
        }
        plan.finish(builders, part.len())
    };
    let batches: Vec<Result<RecordBatch, String>> = if threads == 1 || spans.is_empty() {
        vec![chunk(0, spans)]
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = spans
                .chunks(size)
                .enumerate()
                .map(|(k, part)| scope.spawn(move || chunk(k * size, part)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err("a column builder thread panicked".into()))
                })
                .collect()
        })
    };
    batches
        .into_iter()
        .map(|batch| {
            let data = StructArray::from(batch?).into_data();
            Ok(ArrowBatch::new(data, None))
        })
        .collect()
}
