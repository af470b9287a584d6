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
//!
//! `ModelBase` is a frozen class (no runtime borrow flag, so no atomic operation on a read): its state sits in
//! a [`GilCell`], which the GIL the module declares (`gil_used = true`) keeps to one thread at a time.

use pyo3::exceptions::{PyAttributeError, PyImportError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::PyClassInitializer;
use pyo3::{Borrowed, PyTraverseError, PyVisit};
use std::cell::UnsafeCell;
use std::mem;
use std::sync::{Once, OnceLock};

use crate::decode::DecodeFailure;
use crate::errors::{decode_error, guard, message_index};
use crate::messages::schema;
use crate::record::{Index, Lookup, NativeField, Read, Record};
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

/// How many cached values a model holds inline, allocated with it: every model of a record list's hot path
/// has at most this many fields.
const INLINE_SLOTS: usize = 16;

/// The cached field values of a model, by slot number: inline (with how many of them lead up to the last one
/// stored, all that the garbage collector visits), or on the heap for a model with more fields than
/// [`INLINE_SLOTS`] (moved there, all of its slots, when the first of those beyond is stored).
enum Slots {
    Inline([Option<Py<PyAny>>; INLINE_SLOTS], usize),
    Heap(Box<[Option<Py<PyAny>>]>),
}

impl Slots {
    fn new() -> Self {
        Slots::Inline([const { None }; INLINE_SLOTS], 0)
    }

    /// The slots up to the last one stored (or all of them).
    fn all(&self) -> &[Option<Py<PyAny>>] {
        match self {
            Slots::Inline(values, used) => &values[..*used],
            Slots::Heap(values) => values,
        }
    }

    fn get(&self, slot: usize) -> Option<&Py<PyAny>> {
        self.all().get(slot).and_then(Option::as_ref)
    }

    /// Slot `slot` of a model with `slots` slots (`slot < slots`).
    fn slot_mut(&mut self, slot: usize, slots: usize) -> &mut Option<Py<PyAny>> {
        if let Slots::Inline(values, _) = self {
            if slot >= INLINE_SLOTS {
                let mut heap: Box<[Option<Py<PyAny>>]> = (0..slots).map(|_| None).collect();
                for (to, from) in heap.iter_mut().zip(values.iter_mut()) {
                    *to = from.take();
                }
                *self = Slots::Heap(heap);
            }
        }
        match self {
            Slots::Inline(values, used) => {
                *used = (*used).max(slot + 1);
                &mut values[slot]
            }
            Slots::Heap(values) => &mut values[slot],
        }
    }
}

/// A model's mutable state.
struct State {
    /// Whether the constructor ran again on a decoded model: it then reads as a constructed one (its
    /// source is kept, unread, until the model goes).
    reset: bool,
    /// A record parsed by protobuf: the source of the fields Rust leaves to protobuf (repeated fields,
    /// maps, raw messages, converted values), made once.
    parsed: Option<Py<PyAny>>,
    /// The cached value of each field, by the field's slot number.
    slots: Slots,
    /// The names of the fields assigned on a decoded model (a set), or None.
    dirty: Option<Py<PyAny>>,
    /// The python backend's `(RecordBytes, index)` of a bulk-decoded record, or None.
    raw: Option<Py<PyAny>>,
    /// Where a record's fields stand, found by its first read.
    index: Index,
}

/// The mutable state of a frozen class, changed in place by a thread attached to the interpreter.
///
/// The module declares `gil_used = true`, so an attached thread holds the GIL, and no two threads are inside
/// [`GilCell::with`] at once as long as its closure never lets the GIL go. Its closures only read, move and
/// take new references: they call nothing in Python, make no Python object (which could start a garbage
/// collection) and drop none (a deallocation can run a finalizer); what they take out is dropped after.
struct GilCell<T>(UnsafeCell<T>);

// SAFETY: the value is reached only through `with` (one attached thread at a time, see above) and, for the
// garbage collector, `peek`; what it holds (Python references, byte spans) may move between threads.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    fn new(value: T) -> Self {
        GilCell(UnsafeCell::new(value))
    }

    /// Run `f` on the value.
    ///
    /// # Safety
    /// `f` must not run Python code or let the GIL go: no call into Python, no new Python object, no Python
    /// object dropped (move it out and drop it after `with` returns), and no `with` on the same cell.
    unsafe fn with<R>(&self, _py: Python<'_>, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: by the caller's promise and the GIL, no other reference to the value is alive meanwhile.
        f(unsafe { &mut *self.0.get() })
    }

    /// The value, for the garbage collector's traversal.
    ///
    /// # Safety
    /// Only inside `__traverse__`: the collector runs with the GIL held and no Python code, so no `with` is
    /// under way (none allocates a Python object, which is what starts a collection).
    unsafe fn peek(&self) -> &T {
        // SAFETY: by the caller's promise, nothing changes the value while the reference lives.
        unsafe { &*self.0.get() }
    }
}

/// Refuse to load where the GIL is off: a free-threaded interpreter turns it back on when it imports this
/// module (`gil_used = true`) unless told to keep it off (`PYTHON_GIL=0`, `-X gil=0`), and [`GilCell`] relies
/// on it. The package then runs on its python backend, as when the extension is not built.
pub fn require_gil(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    if let Ok(enabled) = sys.getattr("_is_gil_enabled") {
        if !enabled.call0()?.is_truthy()? {
            return Err(PyImportError::new_err(
                "flytecodec._native needs the GIL, which this interpreter was told to keep off",
            ));
        }
    }
    Ok(())
}

/// The base of every model: its source and its cached field values.
#[pyclass(subclass, frozen, module = "flytecodec._native")]
pub struct ModelBase {
    /// Set when the model is made and never changed, so that a read borrows it across calls into Python.
    src: Source,
    state: GilCell<State>,
}

/// What a property's first look at a model finds.
enum Cached {
    /// The field's cached value.
    Value(Py<PyAny>),
    /// A constructed or assigned-to model: the instance attribute comes first.
    Shadowed,
    /// A decoded model without the value yet.
    Missing,
}

impl ModelBase {
    fn new(src: Source) -> Self {
        ModelBase {
            src,
            state: GilCell::new(State {
                reset: false,
                parsed: None,
                slots: Slots::new(),
                dirty: None,
                raw: None,
                index: Index::default(),
            }),
        }
    }

    /// The model's source: nothing for a constructed model (or one whose constructor ran again).
    fn src(&self, py: Python<'_>) -> &Source {
        // SAFETY: a read only.
        if unsafe { self.state.with(py, |s| s.reset) } {
            &Source::Empty
        } else {
            &self.src
        }
    }

    /// Whether reads find the values in the instance attributes (a constructed model, or one whose
    /// constructor ran again): nothing is cached.
    fn constructed(&self, s: &State) -> bool {
        s.reset || matches!(self.src, Source::Empty)
    }

    /// Slot `slot`'s value, or whether the instance attribute comes first.
    fn cached(&self, py: Python<'_>, slot: usize) -> Cached {
        // SAFETY: reads and a new reference only.
        unsafe {
            self.state.with(py, |s| {
                if self.constructed(s) || s.dirty.is_some() {
                    return Cached::Shadowed;
                }
                match s.slots.get(slot) {
                    Some(value) => Cached::Value(value.clone_ref(py)),
                    None => Cached::Missing,
                }
            })
        }
    }

    /// Store `value` in slot `slot` of a model with `slots` slots, unless a value is there already (another
    /// thread's, stored while this one converted): the value kept, or None when the model has no source now.
    fn store<'py>(
        &self,
        slot: usize,
        slots: usize,
        value: Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyAny>> {
        let py = value.py();
        // SAFETY: reads, moves and new references only (the slot array grows in Rust memory).
        let kept = unsafe {
            self.state.with(py, |s| {
                if self.constructed(s) {
                    return None;
                }
                Some(
                    s.slots
                        .slot_mut(slot, slots)
                        .get_or_insert_with(|| value.clone().unbind())
                        .clone_ref(py),
                )
            })
        };
        kept.map(|v| v.into_bound(py))
    }

    fn get_field(
        &self,
        py: Python<'_>,
        field: impl FnOnce(&State) -> &Option<Py<PyAny>>,
    ) -> Py<PyAny> {
        // SAFETY: reads and a new reference only.
        unsafe {
            self.state.with(py, |s| {
                field(s)
                    .as_ref()
                    .map_or_else(|| py.None(), |v| v.clone_ref(py))
            })
        }
    }

    fn set_field(
        &self,
        py: Python<'_>,
        value: Option<Py<PyAny>>,
        field: impl FnOnce(&mut State) -> &mut Option<Py<PyAny>>,
    ) {
        let value = value.filter(|v| !v.is_none(py));
        // SAFETY: a move only; the old value is dropped after.
        let old = unsafe { self.state.with(py, |s| mem::replace(field(s), value)) };
        drop(old);
    }

    /// The protobuf class of `slf`'s message (the class attribute `_pb_class`).
    fn pb_class<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.get_type().getattr(intern!(slf.py(), "_pb_class"))
    }

    /// The record parsed by protobuf, made once and kept (never handed to the caller to change).
    fn parsed<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        let this = slf.get();
        let record = match this.src(py) {
            Source::Empty => return Ok(None),
            Source::Proto(pb) => return Ok(Some(pb.bind(py).clone())),
            Source::Record(record) => record,
        };
        // SAFETY: a read and a new reference only.
        let parsed = unsafe {
            this.state
                .with(py, |s| s.parsed.as_ref().map(|pb| pb.clone_ref(py)))
        };
        if let Some(pb) = parsed {
            return Ok(Some(pb.into_bound(py)));
        }
        let pb =
            Self::pb_class(slf)?.call_method1(intern!(py, "FromString"), (record.bytes(py),))?;
        // SAFETY: reads, a move and new references only.
        let kept = unsafe {
            this.state.with(py, |s| {
                s.parsed
                    .get_or_insert_with(|| pb.clone().unbind())
                    .clone_ref(py)
            })
        };
        Ok(Some(kept.into_bound(py)))
    }
}

/// A model class: a subclass of [`ModelBase`], checked once when made, so that making its instances does
/// not check it again.
pub struct ModelClass(Py<PyType>);

impl ModelClass {
    pub fn new(cls: &Bound<'_, PyType>) -> PyResult<Self> {
        if cls.is_subclass_of::<ModelBase>()? {
            Ok(ModelClass(cls.clone().unbind()))
        } else {
            Err(PyTypeError::new_err(format!("{cls} is not a model class")))
        }
    }

    /// A new instance reading from `src`, made without running the class's constructor.
    ///
    /// The first is made as PyO3's own `tp_new` makes one (without its argument parsing): the base's
    /// `tp_new` (`object.__new__`) allocates it, and the Rust part is written in place; where PyO3 put it
    /// in the object is measured on it. The others are allocated by the class's `tp_alloc` and their Rust
    /// part written there, which is all `object.__new__` and PyO3 do (PyO3's other parts of a frozen class
    /// without `dict` or `weakref` take no room), less one thing: on CPython 3.11 and 3.12
    /// `object.__new__` also allocates the array of a Python subclass's instance attributes, which CPython
    /// otherwise makes when the first one is set, as for any instance allocated by `tp_alloc` (3.13 makes
    /// it in `tp_alloc`). A model has none until it is assigned to, and a decoded one seldom is.
    pub fn instance<'py>(&self, py: Python<'py>, src: Source) -> PyResult<Bound<'py, PyAny>> {
        let tp = self.0.bind(py).as_type_ptr();
        // SAFETY: `tp` is a live type object (held) that derives from `ModelBase` (checked when this was
        // made), the condition of `tp_new_impl`, which gives a new reference or an error. `tp_alloc` gives a
        // new zeroed object of the class's size (which holds a `ModelBase` at `offset`, as in every instance
        // of a subclass of `ModelBase`), or NULL with an exception set; nothing runs before the Rust part
        // is written, so the garbage collector never sees it unwritten.
        unsafe {
            let abstract_class = (*tp).tp_flags & ffi::Py_TPFLAGS_IS_ABSTRACT != 0;
            let Some(&offset) = VALUE_OFFSET.get().filter(|_| !abstract_class) else {
                let init = PyClassInitializer::from(ModelBase::new(src));
                let obj = pyo3::impl_::pymethods::tp_new_impl(py, init, tp)?;
                let obj = Bound::from_owned_ptr(py, obj);
                let value = obj.cast_unchecked::<ModelBase>().get() as *const ModelBase;
                let _ = VALUE_OFFSET.set(value as usize - obj.as_ptr() as usize);
                return Ok(obj);
            };
            let alloc = (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
            let obj = alloc(tp, 0);
            if obj.is_null() {
                return Err(PyErr::fetch(py));
            }
            obj.cast::<u8>()
                .add(offset)
                .cast::<ModelBase>()
                .write(ModelBase::new(src));
            Ok(Bound::from_owned_ptr(py, obj))
        }
    }
}

/// Where PyO3 puts the `ModelBase` of a model in its object: the offset from the object's start, the same
/// in every subclass (measured on the first model made).
static VALUE_OFFSET: OnceLock<usize> = OnceLock::new();

/// A new instance of `cls` (a subclass of [`ModelBase`]) reading from `src`, made without running its
/// constructor.
pub fn new_model<'py>(cls: &Bound<'py, PyType>, src: Source) -> PyResult<Bound<'py, PyAny>> {
    ModelClass::new(cls)?.instance(cls.py(), src)
}

#[pymethods]
impl ModelBase {
    /// Models are made by their class's constructor (arguments go to `__init__`) or by the decoders.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn py_new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyAny>>) -> Self {
        ModelBase::new(Source::Empty)
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

    /// Make the model a constructed one (its constructor sets None): a source is given when a model is
    /// made, by `_over` or a decoder, and cannot be set afterwards.
    #[setter(_src)]
    fn set_source(&self, py: Python<'_>, value: Option<Py<PyAny>>) -> PyResult<()> {
        if value.is_some() {
            return Err(PyTypeError::new_err(
                "a model's source is given when it is made: only None (a constructed model) can be set",
            ));
        }
        // SAFETY: moves only; the parse and the values are dropped after.
        let old = unsafe {
            self.state.with(py, |s| {
                s.reset = true;
                (s.parsed.take(), mem::replace(&mut s.slots, Slots::new()))
            })
        };
        drop(old);
        Ok(())
    }

    /// The names of the fields assigned on a decoded model (a set), or None.
    #[getter(_dirty)]
    fn dirty(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_field(py, |s| &s.dirty)
    }

    #[setter(_dirty)]
    fn set_dirty(&self, py: Python<'_>, value: Option<Py<PyAny>>) {
        self.set_field(py, value, |s| &mut s.dirty);
    }

    /// The python backend's `(RecordBytes, index)` of a bulk-decoded record, or None.
    #[getter(_raw)]
    fn raw(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_field(py, |s| &s.raw)
    }

    #[setter(_raw)]
    fn set_raw(&self, py: Python<'_>, value: Option<Py<PyAny>>) {
        self.set_field(py, value, |s| &mut s.raw);
    }

    /// Whether the model was decoded (has a source), not made by its constructor.
    #[getter(_decoded)]
    fn decoded(&self, py: Python<'_>) -> bool {
        !matches!(self.src(py), Source::Empty)
    }

    /// A new protobuf message equal to the source (unknown fields included), or None for a constructed
    /// model: one parse of a record's bytes, or one copy of a protobuf source.
    fn _source_copy<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        guard(py, || {
            let src = match slf.get().src(py) {
                Source::Empty => return Ok(None),
                Source::Record(record) => Err(record.bytes(py)),
                Source::Proto(pb) => Ok(pb),
            };
            let cls = Self::pb_class(slf)?;
            match src {
                Err(bytes) => cls
                    .call_method1(intern!(py, "FromString"), (bytes,))
                    .map(Some),
                Ok(pb) => {
                    let copy = cls.call0()?;
                    copy.call_method1(intern!(py, "CopyFrom"), (pb.bind(py),))?;
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
            if let Source::Record(record) = slf.get().src(py) {
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
            if let Source::Record(record) = slf.get().src(py) {
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
        // SAFETY: called by the garbage collector only.
        let s = unsafe { self.state.peek() };
        match &self.src {
            Source::Empty => {}
            Source::Record(record) => visit.call(&record.buffer)?,
            Source::Proto(pb) => visit.call(pb)?,
        }
        for value in s.slots.all().iter().flatten() {
            visit.call(value)?;
        }
        visit.call(&s.parsed)?;
        visit.call(&s.dirty)?;
        visit.call(&s.raw)
    }

    /// Drop the references a cycle can go through (the source, bytes or a protobuf message, holds none).
    fn __clear__(slf: &Bound<'_, Self>) {
        let py = slf.py();
        // SAFETY: moves only; everything taken is dropped after.
        let old = unsafe {
            slf.get().state.with(py, |s| {
                (
                    s.parsed.take(),
                    mem::replace(&mut s.slots, Slots::new()),
                    s.dirty.take(),
                    s.raw.take(),
                )
            })
        };
        drop(old);
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
    model: PyOnceLock<ModelClass>,
    /// `() -> (protobuf message -> value)`, resolved on first use.
    make_pb_reader: Py<PyAny>,
    pb_reader: PyOnceLock<Py<PyAny>>,
    /// The class of the first model this property read (a subclass of `ModelBase`, kept alive here): its
    /// instances need no subclass check.
    seen: PyOnceLock<Py<PyType>>,
}

impl NativeProperty {
    fn pb_reader<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        let read = self
            .pb_reader
            .get_or_try_init(py, || self.make_pb_reader.call0(py))?;
        Ok(read.bind(py))
    }

    fn model_class(&self, py: Python<'_>) -> PyResult<&ModelClass> {
        self.model.get_or_try_init(py, || {
            let resolve = self.resolve_model.as_ref().ok_or_else(|| {
                PyTypeError::new_err("a sub-message property needs its model class")
            })?;
            ModelClass::new(&resolve.bind(py).call0()?.cast_into::<PyType>()?)
        })
    }

    /// The field's value converted from `model`'s source.
    fn convert<'py>(&self, model: &Bound<'py, ModelBase>) -> PyResult<Bound<'py, PyAny>> {
        let py = model.py();
        // the source never changes once the model is made: borrowed while values are made (which can run Python)
        let pb = match (model.get().src(py), &self.field) {
            (Source::Empty, _) => return Ok(py.None().into_bound(py)),
            (Source::Record(record), Some(field)) => {
                if !field.single() {
                    return self.read(py, record, field, Lookup::Unknown);
                }
                let bytes = record.buffer.as_bytes(py);
                // SAFETY: a walk of the record's bytes and copies only.
                let found = unsafe {
                    model
                        .get()
                        .state
                        .with(py, |s| s.index.find(record, bytes, field))
                };
                return self.read(py, record, field, found);
            }
            (Source::Record(_), None) => ModelBase::parsed(model)?
                .ok_or_else(|| PyValueError::new_err("a decoded model lost its source"))?,
            (Source::Proto(pb), _) => pb.bind(py).clone(),
        };
        self.pb_reader(py)?.call1((pb,))
    }

    /// The field read from `record`'s bytes, its sub-messages made into models.
    fn read<'py>(
        &self,
        py: Python<'py>,
        record: &Record,
        field: &NativeField,
        found: Lookup,
    ) -> PyResult<Bound<'py, PyAny>> {
        let buffer = record.buffer.bind(py);
        match record.read(py, field, found)? {
            Read::Value(value) => Ok(value),
            Read::Message(parts) => {
                let sub = Record::new(buffer.clone().unbind(), parts, false);
                self.model_class(py)?.instance(py, Source::Record(sub))
            }
            Read::Messages(spans) => {
                let cls = self.model_class(py)?;
                let list = PyList::empty(py);
                for (start, end) in spans {
                    let sub = Record::whole(buffer.clone().unbind(), start, end, false);
                    list.append(cls.instance(py, Source::Record(sub))?)?;
                }
                Ok(list.into_any())
            }
            Read::Entries(entries) => {
                let cls = self.model_class(py)?;
                let dict = PyDict::new(py);
                for (key, parts) in entries {
                    let sub = Record::new(buffer.clone().unbind(), parts, false);
                    dict.set_item(key, cls.instance(py, Source::Record(sub))?)?;
                }
                Ok(dict.into_any())
            }
        }
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
        let model = match this.seen.get(py) {
            // SAFETY: `obj` is an instance of the class seen before, which derives from `ModelBase`.
            Some(seen) if obj.get_type_ptr() == seen.bind(py).as_type_ptr() => unsafe {
                obj.cast_unchecked::<ModelBase>()
            },
            seen => {
                let model = obj.cast::<ModelBase>()?;
                if seen.is_none() {
                    // no other thread can set it meanwhile (no Python runs between the two), so nothing
                    // is dropped here
                    let _ = this.seen.set(py, obj.get_type().unbind());
                }
                model
            }
        };
        match model.get().cached(py, this.slot) {
            Cached::Value(value) => return Ok(value.into_bound(py)),
            Cached::Missing => {}
            Cached::Shadowed => {
                // a constructed model's values, and the values assigned to a decoded one, are instance
                // attributes
                if let Some(value) = instance_attribute(obj, this.name.bind(py))? {
                    return Ok(value);
                }
            }
        }
        let value = this.convert(model)?;
        // a constructed model without this attribute has nothing to cache; another thread's value stored
        // first is given instead, so that every thread gets the same object
        Ok(model
            .get()
            .store(this.slot, this.slots, value.clone())
            .unwrap_or(value))
    }
}

/// `NativeProperty`'s `tp_descr_get`, put in place of PyO3's wrapper of `__get__` when the first property is
/// made (`__get__` called by name still goes through PyO3's): the same `get`, without PyO3's entry
/// bookkeeping, which cost more than a cached read itself. A panic is caught by `guard` and becomes
/// `InternalError`, as everywhere.
///
/// PyO3 drops a `Py` (not a `Bound`) only when it counts the thread as attached, and leaks it otherwise: this
/// entry does not count the thread, so nothing on `get`'s way drops a `Py` (values are made as `Bound` and
/// stored as `Py`), and an error, whose state holds some, is raised from inside `Python::attach`.
///
/// # Safety
/// Called by CPython only, with the thread attached (the GIL held: the module refuses to load without it):
/// `descr` a `NativeProperty`, `obj` an object or NULL, both borrowed for the call.
unsafe extern "C" fn property_get(
    descr: *mut ffi::PyObject,
    obj: *mut ffi::PyObject,
    _owner: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a slot with the thread attached, and nothing borrowed outlives the call.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: the slot is `NativeProperty`'s (no class derives from it), so `descr` is one; `obj` is NULL or a
    // live object, borrowed for the call.
    let (slf, obj) = unsafe {
        (
            Borrowed::from_ptr(py, descr).cast_unchecked::<NativeProperty>(),
            Borrowed::from_ptr_or_opt(py, obj),
        )
    };
    match guard(py, || NativeProperty::get(&slf, obj.as_deref())) {
        Ok(value) => value.into_ptr(),
        Err(error) => {
            Python::attach(|py| error.restore(py));
            std::ptr::null_mut()
        }
    }
}

/// Put [`property_get`] in `NativeProperty`'s `tp_descr_get` slot (once).
fn install_property_get(py: Python<'_>) {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let tp = py.get_type::<NativeProperty>().as_type_ptr();
        // SAFETY: the type object is alive (PyO3 keeps it), the thread holds the GIL, so no attribute lookup
        // reads the slot meanwhile; `PyType_Modified` drops what CPython cached of the type.
        unsafe {
            (*tp).tp_descr_get = Some(property_get);
            ffi::PyType_Modified(tp);
        }
    });
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
        install_property_get(name.py());
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
            seen: PyOnceLock::new(),
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
