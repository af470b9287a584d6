//! The model base and its properties, owned by the native core.
//!
//! [`ModelBase`] is the base class of every model (`flytecodec.models._entity.FlyteIdlEntity` derives from
//! it when the extension is built). It holds the model's [`Source`] — nothing for a model made by its
//! constructor, the bytes of a record (read here), or a protobuf message (the python backend's, read by the
//! field's Python reader) — and a fixed array of cached values, one slot per field. [`NativeProperty`] is
//! the class attribute behind each property: its `__get__` gives the cached value, or converts the field
//! from the source and caches it (the first value stored wins, so every thread sees the same object).
//!
//! Instance attributes (`__dict__`) shadow the properties: a constructed model keeps its constructor's values
//! there, and a value assigned to a decoded model is kept there too (and named in `_dirty`). The property is
//! a data descriptor that looks in `__dict__` only for such models, so a decoded model's read never does.

use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::decode::DecodeFailure;
use crate::errors::{decode_error, guard, message_index};
use crate::messages::schema;
use crate::record::{NativeField, Read, Record};
use crate::wire::validate;

/// Where a model's fields come from.
pub enum Source {
    /// A model made by its constructor: its values are instance attributes.
    Empty,
    /// A record, or a sub-message of one, read from its bytes.
    Record(Record),
    /// A protobuf message (the python backend), read by the fields' Python readers.
    Proto(Py<PyAny>),
}

/// The base of every model: its source and its cached field values.
#[pyclass(subclass, module = "flytecodec._native")]
pub struct ModelBase {
    src: Source,
    /// A record parsed by protobuf: the source of the fields Rust leaves to protobuf (repeated fields,
    /// maps, raw messages, converted values), made once.
    parsed: Option<Py<PyAny>>,
    /// The cached value of each field, by the field's slot number.
    slots: Vec<Option<Py<PyAny>>>,
    /// The names of the fields assigned on a decoded model (a set), or None.
    #[pyo3(get, set, name = "_dirty")]
    dirty: Option<Py<PyAny>>,
    /// The python backend's `(RecordBytes, index)` of a bulk-decoded record, or None.
    #[pyo3(get, set, name = "_raw")]
    raw: Option<Py<PyAny>>,
}

/// A new instance of `cls` (a subclass of [`ModelBase`]) reading from `src`, made without running its
/// constructor.
pub fn new_model<'py>(cls: &Bound<'py, PyType>, src: Source) -> PyResult<Bound<'py, PyAny>> {
    let py = cls.py();
    let tp = cls.as_type_ptr();
    // SAFETY: `tp` is a live type object (borrowed from `cls`); its `tp_new` is called as CPython's
    // `type.__call__` would, with an empty argument tuple and no keywords. The result is a new reference
    // or NULL with an exception set, which `from_owned_ptr_or_err` takes over.
    let obj = unsafe {
        let new = (*tp)
            .tp_new
            .ok_or_else(|| PyTypeError::new_err("a model class must be instantiable"))?;
        let args = PyTuple::empty(py);
        Bound::from_owned_ptr_or_err(py, new(tp, args.as_ptr(), std::ptr::null_mut()))?
    };
    let model = obj
        .cast::<ModelBase>()
        .map_err(|_| PyTypeError::new_err(format!("{cls} is not a model class")))?;
    model.borrow_mut().src = src;
    Ok(obj)
}

impl ModelBase {
    /// The protobuf class of `slf`'s message (the class attribute `_pb_class`).
    fn pb_class<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.get_type().getattr(intern!(slf.py(), "_pb_class"))
    }

    /// The record parsed by protobuf, made once and kept (never handed to the caller to change).
    fn parsed<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        let bytes = {
            let this = slf.borrow();
            match &this.src {
                Source::Empty => return Ok(None),
                Source::Proto(pb) => return Ok(Some(pb.bind(py).clone())),
                Source::Record(_) if this.parsed.is_some() => {
                    return Ok(this.parsed.as_ref().map(|pb| pb.bind(py).clone()))
                }
                Source::Record(record) => record.bytes(py),
            }
        };
        let pb = Self::pb_class(slf)?.call_method1(intern!(py, "FromString"), (bytes,))?;
        let mut this = slf.borrow_mut();
        let kept = this.parsed.get_or_insert_with(|| pb.clone().unbind());
        Ok(Some(kept.bind(py).clone()))
    }
}

#[pymethods]
impl ModelBase {
    /// Models are made by their class's constructor (arguments go to `__init__`) or by the decoders.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn py_new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyAny>>) -> Self {
        ModelBase {
            src: Source::Empty,
            parsed: None,
            slots: Vec::new(),
            dirty: None,
            raw: None,
        }
    }

    /// A new model of class `cls` over the protobuf message `pb`, which the model takes over (no copy).
    #[staticmethod]
    fn _over<'py>(cls: &Bound<'py, PyType>, pb: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        new_model(cls, Source::Proto(pb.unbind()))
    }

    /// The message the model reads from: None for a constructed model, else a protobuf message (a
    /// record's is parsed once and kept: it must not be changed).
    #[getter(_src)]
    fn source<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(slf.py(), || Self::parsed(slf))
    }

    /// Set the source: None (a constructed model) or a protobuf message the model takes over.
    #[setter(_src)]
    fn set_source(&mut self, value: Option<Py<PyAny>>) {
        self.src = value.map_or(Source::Empty, Source::Proto);
        self.parsed = None;
        self.slots.clear();
    }

    /// Whether the model was decoded (has a source), not made by its constructor.
    #[getter(_decoded)]
    fn decoded(&self) -> bool {
        !matches!(self.src, Source::Empty)
    }

    /// A new protobuf message equal to the source (unknown fields included), or None for a constructed
    /// model: one parse of a record's bytes, or one copy of a protobuf source.
    fn _source_copy<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        guard(py, || {
            let src = match &slf.borrow().src {
                Source::Empty => return Ok(None),
                Source::Record(record) => Err(record.bytes(py)),
                Source::Proto(pb) => Ok(pb.clone_ref(py)),
            };
            let cls = Self::pb_class(slf)?;
            match src {
                Err(bytes) => cls
                    .call_method1(intern!(py, "FromString"), (bytes,))
                    .map(Some),
                Ok(pb) => {
                    let copy = cls.call0()?;
                    copy.call_method1(intern!(py, "CopyFrom"), (pb,))?;
                    Ok(Some(copy))
                }
            }
        })
    }

    /// The serialized source, or None for a constructed model: a batch's record exactly as decoded; a
    /// sub-message as protobuf serializes it once parsed (as the python backend, which holds the parsed
    /// sub-message, can only give it).
    fn _source_bytes<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        guard(py, || {
            if let Source::Record(record) = &slf.borrow().src {
                if record.top {
                    return Ok(Some(record.bytes(py).into_any()));
                }
            }
            match Self::parsed(slf)? {
                None => Ok(None),
                Some(pb) => pb.call_method0(intern!(py, "SerializeToString")).map(Some),
            }
        })
    }

    /// Whether the source serializes to nothing (protobuf's answer: fields set to their default values
    /// count as empty); None for a constructed model.
    fn _source_empty(slf: &Bound<'_, Self>) -> PyResult<Option<bool>> {
        let py = slf.py();
        guard(py, || {
            if let Source::Record(record) = &slf.borrow().src {
                if record.size() == 0 {
                    return Ok(Some(true));
                }
            }
            match Self::parsed(slf)? {
                None => Ok(None),
                Some(pb) => Ok(Some(
                    pb.call_method0(intern!(py, "ByteSize"))?
                        .extract::<usize>()?
                        == 0,
                )),
            }
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        match &self.src {
            Source::Empty => {}
            Source::Record(record) => visit.call(&record.buffer)?,
            Source::Proto(pb) => visit.call(pb)?,
        }
        for value in self.slots.iter().flatten() {
            visit.call(value)?;
        }
        visit.call(&self.parsed)?;
        visit.call(&self.dirty)?;
        visit.call(&self.raw)
    }

    fn __clear__(&mut self) {
        self.src = Source::Empty;
        self.parsed = None;
        self.slots.clear();
        self.dirty = None;
        self.raw = None;
    }
}

/// The class attribute behind a model property: a data descriptor whose `__get__` gives the instance
/// attribute of the same name on a constructed or assigned-to model, else the field's cached value, or
/// converts it from the source.
#[pyclass(frozen, module = "flytecodec._native")]
pub struct NativeProperty {
    name: Py<PyString>,
    doc: String,
    /// The field's slot in [`ModelBase`]'s cache, and the number of slots of the model class.
    slot: usize,
    slots: usize,
    /// How Rust reads the field from a record; `None` when the shape is left to protobuf.
    field: Option<NativeField>,
    /// `() -> model class`, for a sub-message field; resolved on first use.
    resolve_model: Option<Py<PyAny>>,
    model: PyOnceLock<Py<PyType>>,
    /// `() -> (protobuf message -> value)`, resolved on first use.
    make_pb_reader: Py<PyAny>,
    pb_reader: PyOnceLock<Py<PyAny>>,
}

impl NativeProperty {
    fn pb_reader<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        let read = self
            .pb_reader
            .get_or_try_init(py, || self.make_pb_reader.call0(py))?;
        Ok(read.bind(py))
    }

    fn model_class<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyType>> {
        let cls = self.model.get_or_try_init(py, || -> PyResult<Py<PyType>> {
            let resolve = self.resolve_model.as_ref().ok_or_else(|| {
                PyTypeError::new_err("a sub-message property needs its model class")
            })?;
            Ok(resolve.bind(py).call0()?.cast_into::<PyType>()?.unbind())
        })?;
        Ok(cls.bind(py))
    }

    /// The field's value converted from `model`'s source.
    fn convert<'py>(&self, model: &Bound<'py, ModelBase>) -> PyResult<Bound<'py, PyAny>> {
        let py = model.py();
        let proto = {
            let this = model.borrow();
            match (&this.src, &self.field) {
                (Source::Empty, _) => return Ok(py.None().into_bound(py)),
                (Source::Record(record), Some(field)) => {
                    // read with the model's borrow released: making values can run Python (a collection)
                    let record = record.clone_ref(py);
                    drop(this);
                    return match record.read(py, field)? {
                        Read::Value(value) => Ok(value),
                        Read::Message(parts) => {
                            let sub = Record::new(record.buffer.clone_ref(py), parts, false);
                            new_model(self.model_class(py)?, Source::Record(sub))
                        }
                        Read::Messages(spans) => {
                            let buffer = &record.buffer;
                            let cls = self.model_class(py)?;
                            let list = PyList::empty(py);
                            for (start, end) in spans {
                                let sub = Record::whole(buffer.clone_ref(py), start, end, false);
                                list.append(new_model(cls, Source::Record(sub))?)?;
                            }
                            Ok(list.into_any())
                        }
                        Read::Entries(entries) => {
                            let buffer = &record.buffer;
                            let cls = self.model_class(py)?;
                            let dict = PyDict::new(py);
                            for (key, parts) in entries {
                                let sub = Record::new(buffer.clone_ref(py), parts, false);
                                dict.set_item(key, new_model(cls, Source::Record(sub))?)?;
                            }
                            Ok(dict.into_any())
                        }
                    };
                }
                (Source::Record(_), None) => None,
                (Source::Proto(pb), _) => Some(pb.clone_ref(py).into_bound(py)),
            }
        };
        let pb = match proto {
            Some(pb) => pb,
            None => ModelBase::parsed(model)?
                .ok_or_else(|| PyValueError::new_err("a decoded model lost its source"))?,
        };
        self.pb_reader(py)?.call1((pb,))
    }

    fn get<'py>(
        slf: &Bound<'py, Self>,
        obj: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(slf.clone().into_any());
        };
        let this = slf.get();
        let model = obj.cast::<ModelBase>()?;
        let shadowed = {
            let cache = model.borrow();
            if let Some(Some(value)) = cache.slots.get(this.slot) {
                if cache.dirty.is_none() {
                    return Ok(value.bind(py).clone());
                }
            }
            matches!(cache.src, Source::Empty) || cache.dirty.is_some()
        };
        if shadowed {
            // a constructed model's values, and the values assigned to a decoded one, are instance attributes
            if let Some(value) = instance_attribute(obj, this.name.bind(py))? {
                return Ok(value);
            }
        }
        let value = this.convert(model)?;
        let mut cache = model.borrow_mut();
        if matches!(cache.src, Source::Empty) {
            return Ok(value); // a constructed model without this attribute: nothing to cache
        }
        if cache.slots.len() < this.slots {
            let more = this.slots - cache.slots.len();
            cache.slots.reserve_exact(more); // one allocation of the model's slot array, no spare room
            cache.slots.resize_with(this.slots, || None);
        }
        match &mut cache.slots[this.slot] {
            Some(first) => Ok(first.bind(py).clone()), // another thread stored it first: give the same object
            empty => {
                *empty = Some(value.clone().unbind());
                Ok(value)
            }
        }
    }
}

/// `obj.__dict__[name]`, if there.
fn instance_attribute<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    // SAFETY: `obj` is a live object; `PyObject_GenericGetDict` gives a new reference to its instance
    // dictionary (made if it has none yet) or NULL with an exception set.
    let dict = unsafe {
        Bound::from_owned_ptr_or_err(
            obj.py(),
            ffi::PyObject_GenericGetDict(obj.as_ptr(), std::ptr::null_mut()),
        )?
    };
    dict.cast_into::<PyDict>()?.get_item(name)
}

#[pymethods]
impl NativeProperty {
    /// `slot`: the field's position among the model class's `slots` fields; `spec`: `(message, number,
    /// shape, elem, absent)` when Rust reads the field from a record, else None.
    #[new]
    #[pyo3(signature = (name, doc, slot, slots, spec, resolve_model, make_pb_reader))]
    fn new(
        name: Bound<'_, PyString>,
        doc: String,
        slot: usize,
        slots: usize,
        spec: Option<(String, u32, String, String, String)>,
        resolve_model: Option<Py<PyAny>>,
        make_pb_reader: Py<PyAny>,
    ) -> PyResult<Self> {
        if slot >= slots {
            return Err(PyValueError::new_err(format!(
                "slot {slot} out of range for {slots} slots"
            )));
        }
        let field = match spec {
            Some((message, number, shape, elem, absent)) => {
                Some(NativeField::new(&message, number, &shape, &elem, &absent)?)
            }
            None => None,
        };
        Ok(NativeProperty {
            name: name.unbind(),
            doc,
            slot,
            slots,
            field,
            resolve_model,
            model: PyOnceLock::new(),
            make_pb_reader,
            pb_reader: PyOnceLock::new(),
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
        _owner: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(slf.py(), || Self::get(slf, obj))
    }

    /// A data descriptor, so that reading a decoded model's field does not look in its instance dictionary
    /// first (`get` looks there when the model was constructed or assigned to); models assign fields
    /// through `FlyteIdlEntity.__setattr__`, so this is reached only by `object.__setattr__`.
    fn __set__(&self, obj: &Bound<'_, PyAny>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyAttributeError::new_err(format!(
            "property '{}' of '{}' object has no setter",
            self.name,
            obj.get_type().name()?
        )))
    }

    fn __delete__(&self, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyAttributeError::new_err(format!(
            "property '{}' of '{}' object has no deleter",
            self.name,
            obj.get_type().name()?
        )))
    }
}

/// A model of class `cls` over `data`, one serialized `message` (a proto full name), validated as upb
/// would parse it: `DecodeError` (index 0, offset 0) when it is not valid. The model's bytes are `data`.
#[pyfunction]
pub fn read_message<'py>(
    cls: &Bound<'py, PyType>,
    message: &str,
    data: Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = cls.py();
    guard(py, || {
        let s = schema();
        let index = message_index(message)?;
        let bytes = data.as_bytes();
        if let Err(error) = validate(s, index, bytes) {
            let failure = DecodeFailure {
                index: 0,
                offset: 0,
                reason: error.reason.to_string(),
            };
            return Err(decode_error(py, message, &failure));
        }
        let end = bytes.len();
        new_model(
            cls,
            Source::Record(Record::whole(data.unbind(), 0, end, true)),
        )
    })
}
