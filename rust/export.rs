//! Columns across threads, and out to Python through the Arrow PyCapsule protocol: the record batches
//! `Batch.to_arrow()` hands to `pyarrow.record_batch()` (or any consumer of `__arrow_c_array__`).

use arrow_array::{Array, RecordBatch, StructArray};
use arrow_data::ArrayData;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::columns::Plan;
use crate::decode::Span;

/// Fewer records than this per thread are built on one thread.
const MIN_ROWS_PER_THREAD: usize = 4096;

/// One record batch, exported through the Arrow C data interface as a struct array.
#[pyclass(frozen, module = "flytecodec._native")]
pub struct ArrowBatch {
    data: ArrayData,
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
        let (array, schema) = arrow_array::ffi::to_ffi(&self.data)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok((
            PyCapsule::new_with_value(py, schema, c"arrow_schema")?,
            PyCapsule::new_with_value(py, array, c"arrow_array")?,
        ))
    }

    fn __len__(&self) -> usize {
        self.data.len()
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
            Ok(ArrowBatch { data })
        })
        .collect()
}
