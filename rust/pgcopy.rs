//! PostgreSQL's binary COPY format (`COPY (SELECT ...) TO STDOUT (FORMAT BINARY)`), as
//! `flytecodec.sources.postgres` reads flyteadmin's tables on the native backend: a `CopyStream` takes the
//! stream's CopyData chunks as they arrive (a tuple may be split across chunks), checks the header, each tuple's
//! field count and each cell's length against the column types, and gives the complete tuples a batch at a time
//! as `CopyRows`: one buffer and the span of every cell, from which `rows` rebuilds the messages with
//! flyteadmin's rules, and from which the keys, times and stored parts are read without a Python
//! object per row. A malformed stream is a `ValueError` saying what and where, never a panic.
//!
//! The format: the signature `PGCOPY\n\xff\r\n\0`, an int32 of flags (bit 16: OIDs follow, which this reader
//! refuses; bits 0-15 must be clear), an int32 header extension length and that many bytes; then per tuple an
//! int16 field count and per field an int32 length (-1: NULL) and the value in its type's binary form; the
//! trailer is a field count of -1. Integers are big-endian; a timestamptz is an int64 of microseconds since
//! 2000-01-01 UTC (±(2**63 - 1): ±infinity).

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PyString, PyTuple};

use crate::decode::Span;
use crate::record_list::RecordList;
use crate::rows::{validated, write_rows, Cells, Table, PG_EPOCH_MICROS};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
const HEADER: usize = 19; // the signature, the flags and the extension length
const WITH_OIDS: u32 = 1 << 16;
const INCOMPATIBLE: u32 = 0xFFFF; // flag bits a reader must not ignore

/// A column's type, as the query selects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Text,
    Bytea,
    Bool,
    /// int2, int4 or int8 (told apart by the cell's length)
    Int,
    Timestamptz,
}

impl Type {
    fn from_code(code: char) -> Option<Type> {
        Some(match code {
            't' => Type::Text,
            'b' => Type::Bytea,
            '?' => Type::Bool,
            'i' => Type::Int,
            'T' => Type::Timestamptz,
            _ => return None,
        })
    }

    /// Whether a non-NULL cell of `len` bytes can be of this type.
    fn fits(self, len: usize) -> bool {
        match self {
            Type::Text | Type::Bytea => true,
            Type::Bool => len == 1,
            Type::Int => matches!(len, 2 | 4 | 8),
            Type::Timestamptz => len == 8,
        }
    }
}

/// The types of `codes`, one letter a column: `t` text, `b` bytea, `?` bool, `i` integer, `T` timestamptz.
pub fn types(codes: &str) -> Result<Vec<Type>, CopyError> {
    let types = codes
        .chars()
        .map(|c| Type::from_code(c).ok_or_else(|| CopyError(format!("unknown column type {c:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if types.is_empty() || types.len() > i16::MAX as usize {
        return Err(CopyError(format!("{} columns", types.len())));
    }
    Ok(types)
}

/// A cell: where its value starts in the buffer and its length (-1: NULL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub start: usize,
    pub len: i32,
}

impl Cell {
    fn value<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        (self.len >= 0).then(|| &buf[self.start..self.start + self.len as usize])
    }
}

/// What is wrong with a stream (or with the column types asked for).
#[derive(Debug, PartialEq, Eq)]
pub struct CopyError(pub String);

impl From<CopyError> for PyErr {
    fn from(error: CopyError) -> PyErr {
        PyValueError::new_err(error.0)
    }
}

fn int16(buf: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn int32(buf: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// An integer cell's value (2, 4 or 8 bytes, as `Type::fits` checked).
fn integer(value: &[u8]) -> i64 {
    match value.len() {
        2 => i64::from(i16::from_be_bytes([value[0], value[1]])),
        4 => i64::from(i32::from_be_bytes([value[0], value[1], value[2], value[3]])),
        _ => i64::from_be_bytes(value.try_into().expect("an int8 cell has eight bytes")),
    }
}

/// The parser: the bytes received and not yet taken, and the cells of the complete tuples among them.
pub struct Parser {
    types: Vec<Type>,
    buf: Vec<u8>,
    /// the end of the last complete tuple (or of the trailer) in `buf`
    pos: usize,
    cells: Vec<Cell>,
    header: bool,
    trailer: bool,
    /// complete tuples seen, taken or not
    tuples: usize,
}

impl Parser {
    pub fn new(types: Vec<Type>) -> Parser {
        Parser {
            types,
            buf: Vec::new(),
            pos: 0,
            cells: Vec::new(),
            header: false,
            trailer: false,
            tuples: 0,
        }
    }

    /// Adds `data`, the next bytes of the stream; gives how many complete tuples are waiting to be taken.
    pub fn push(&mut self, data: &[u8]) -> Result<usize, CopyError> {
        self.buf.extend_from_slice(data);
        self.parse()?;
        Ok(self.rows())
    }

    /// How many complete tuples are waiting to be taken.
    pub fn rows(&self) -> usize {
        self.cells.len() / self.types.len()
    }

    fn error(&self, what: String) -> CopyError {
        CopyError(format!(
            "malformed COPY data at row {}: {what}",
            self.tuples
        ))
    }

    /// The end of the header in `buf`, once all of it is there.
    fn header_end(&self) -> Result<Option<usize>, CopyError> {
        let seen = self.buf.len().min(SIGNATURE.len());
        if self.buf[..seen] != SIGNATURE[..seen] {
            return Err(CopyError(
                "not a binary COPY stream: its signature is missing".into(),
            ));
        }
        let (Some(flags), Some(extension)) = (int32(&self.buf, 11), int32(&self.buf, 15)) else {
            return Ok(None);
        };
        let flags = flags as u32;
        if flags & WITH_OIDS != 0 {
            return Err(CopyError("the binary COPY stream has OIDs".into()));
        }
        if flags & INCOMPATIBLE != 0 {
            return Err(CopyError(format!(
                "the binary COPY stream has flags {flags:#x} this reader does not know"
            )));
        }
        let extension = usize::try_from(extension).map_err(|_| {
            CopyError(format!(
                "the binary COPY header's extension length is {extension}"
            ))
        })?;
        Ok((self.buf.len() >= HEADER + extension).then_some(HEADER + extension))
    }

    fn parse(&mut self) -> Result<(), CopyError> {
        if !self.header {
            let Some(end) = self.header_end()? else {
                return Ok(());
            };
            self.buf.drain(..end);
            self.header = true;
        }
        while !self.trailer {
            let Some(count) = int16(&self.buf, self.pos) else {
                return Ok(());
            };
            let mut at = self.pos + 2;
            if count == -1 {
                self.trailer = true;
                self.pos = at;
                break;
            }
            if count as isize != self.types.len() as isize {
                return Err(self.error(format!(
                    "{count} fields, not the {} selected",
                    self.types.len()
                )));
            }
            let mark = self.cells.len();
            for (column, &ty) in self.types.iter().enumerate() {
                let Some(len) = int32(&self.buf, at) else {
                    self.cells.truncate(mark);
                    return Ok(());
                };
                at += 4;
                if len < -1 || (len >= 0 && !ty.fits(len as usize)) {
                    self.cells.truncate(mark);
                    return Err(self.error(format!(
                        "column {column} has length {len}, not one of a {ty:?}"
                    )));
                }
                self.cells.push(Cell { start: at, len });
                if len > 0 {
                    if self.buf.len() - at < len as usize {
                        self.cells.truncate(mark);
                        return Ok(());
                    }
                    at += len as usize;
                }
            }
            self.pos = at;
            self.tuples += 1;
        }
        if self.buf.len() > self.pos {
            return Err(CopyError(format!(
                "malformed COPY data: {} bytes after the trailer",
                self.buf.len() - self.pos
            )));
        }
        Ok(())
    }

    /// The complete tuples waiting: the bytes up to the end of the last one (the buffer itself, without a copy)
    /// and their cells, which point into those bytes; what follows them stays, in a buffer of the same capacity.
    pub fn take(&mut self) -> (Vec<u8>, Vec<Cell>) {
        let mut rest = Vec::with_capacity(self.buf.capacity());
        rest.extend_from_slice(&self.buf[self.pos..]);
        self.buf.truncate(self.pos);
        self.pos = 0;
        (
            std::mem::replace(&mut self.buf, rest),
            std::mem::take(&mut self.cells),
        )
    }

    /// Checks that the stream ended with its trailer.
    pub fn finish(&self) -> Result<(), CopyError> {
        if !self.header {
            return Err(CopyError(
                "malformed COPY data: the stream ended inside its header".into(),
            ));
        }
        if !self.trailer {
            let what = if self.buf.len() > self.pos {
                "the stream ended inside it"
            } else {
                "the stream ended without its trailer"
            };
            return Err(self.error(what.into()));
        }
        Ok(())
    }
}

/// A binary COPY stream read a chunk at a time (`push`), its complete tuples taken a batch at a time (`take`).
#[pyclass(module = "flytecodec._native")]
pub struct CopyStream {
    parser: Parser,
}

#[pymethods]
impl CopyStream {
    #[new]
    fn new(types: &str) -> PyResult<Self> {
        Ok(CopyStream {
            parser: Parser::new(self::types(types)?),
        })
    }

    /// Adds a chunk of the stream; returns how many complete tuples are waiting.
    fn push(&mut self, py: Python<'_>, chunk: &Bound<'_, PyAny>) -> PyResult<usize> {
        crate::errors::guard(py, || {
            let buffer = PyBuffer::<u8>::get(chunk)?;
            let Some(cells) = buffer.as_slice(py) else {
                return Ok(self.parser.push(&buffer.to_vec(py)?)?); // not contiguous: copied first
            };
            // SAFETY: `ReadOnlyCell<u8>` is a transparent `u8`; the buffer stays exported (and, the GIL held,
            // unchanged) while `push` copies from it
            let data =
                unsafe { std::slice::from_raw_parts(cells.as_ptr().cast::<u8>(), cells.len()) };
            Ok(self.parser.push(data)?)
        })
    }

    /// The complete tuples waiting, as a batch.
    fn take(&mut self) -> CopyRows {
        let (buffer, cells) = self.parser.take();
        CopyRows {
            buffer,
            cells,
            types: self.parser.types.clone(),
        }
    }

    /// Raises `ValueError` unless the stream ended with its trailer.
    fn finish(&self) -> PyResult<()> {
        Ok(self.parser.finish()?)
    }
}

/// A batch of complete tuples: their bytes and the span of each cell.
#[pyclass(frozen, module = "flytecodec._native")]
pub struct CopyRows {
    buffer: Vec<u8>,
    cells: Vec<Cell>,
    types: Vec<Type>,
}

/// The cells of one tuple, for the rules of `rows`.
struct CopyCells<'a> {
    buf: &'a [u8],
    cells: &'a [Cell],
    types: &'a [Type],
}

impl CopyCells<'_> {
    /// Cell `column`'s value (`None`: NULL), when the column is of one of the types `wanted`.
    fn value(&self, column: usize, wanted: [Type; 2]) -> PyResult<Option<&[u8]>> {
        let ty = self.types[column];
        if !wanted.contains(&ty) {
            return Err(PyValueError::new_err(format!(
                "column {column} is {ty:?}, where the rules read {:?}",
                wanted[0]
            )));
        }
        Ok(self.cells[column].value(self.buf))
    }
}

impl Cells for CopyCells<'_> {
    fn bytes(&self, column: usize) -> PyResult<&[u8]> {
        Ok(self
            .value(column, [Type::Text, Type::Bytea])?
            .unwrap_or_default())
    }

    fn int(&self, column: usize) -> PyResult<Option<i64>> {
        Ok(self
            .value(column, [Type::Int, Type::Timestamptz])?
            .map(integer))
    }

    fn flag(&self, column: usize) -> PyResult<Option<bool>> {
        Ok(self.value(column, [Type::Bool; 2])?.map(|v| v[0] != 0))
    }
}

impl CopyRows {
    fn width(&self) -> usize {
        self.types.len()
    }

    fn rows(&self) -> usize {
        self.cells.len() / self.width()
    }

    fn column_cells(&self, column: usize) -> PyResult<impl Iterator<Item = &Cell>> {
        if column >= self.width() {
            return Err(PyValueError::new_err(format!(
                "column {column} of {}",
                self.width()
            )));
        }
        Ok(self.cells.iter().skip(column).step_by(self.width()))
    }

    /// The messages of `table` rebuilt from these rows (see `rows::rebuild_rows`).
    pub fn rebuild(
        &self,
        py: Python<'_>,
        table: &str,
        message: &str,
        trim: bool,
        namespace: &str,
    ) -> PyResult<Option<(RecordList, usize)>> {
        let table = Table::named(table)?;
        if self.width() < table.width() {
            return Err(PyValueError::new_err(format!(
                "{} columns: the rules read {}",
                self.width(),
                table.width()
            )));
        }
        let buf = self.buffer.as_slice();
        let width = self.width();
        // the stored bytes, and for each row its id and flyteadmin's changes (a hundred bytes or so)
        let capacity = buf.len() + self.rows() * 128;
        let written = py.detach(|| {
            write_rows(self.rows(), capacity, |out, i| {
                let cells = CopyCells {
                    buf,
                    cells: &self.cells[i * width..(i + 1) * width],
                    types: &self.types,
                };
                table.write(out, &cells, trim, namespace.as_bytes())
            })
        })?;
        written
            .map(|(buffer, spans)| validated(py, message, &buffer, spans))
            .transpose()
    }

    fn cell_object<'py>(
        &self,
        py: Python<'py>,
        column: usize,
        cell: &Cell,
    ) -> PyResult<Bound<'py, PyAny>> {
        let buf = self.buffer.as_slice();
        let Some(value) = cell.value(buf) else {
            return Ok(py.None().into_bound(py));
        };
        Ok(match self.types[column] {
            Type::Text => PyString::new(
                py,
                std::str::from_utf8(value).map_err(|_| {
                    PyValueError::new_err(format!("text column {column} is not UTF-8"))
                })?,
            )
            .into_any(),
            Type::Bytea => PyBytes::new(py, value).into_any(),
            Type::Bool => PyBool::new(py, value[0] != 0).to_owned().into_any(),
            Type::Int | Type::Timestamptz => integer(value).into_pyobject(py)?.into_any(),
        })
    }
}

#[pymethods]
impl CopyRows {
    fn __len__(&self) -> usize {
        self.rows()
    }

    /// How many columns each row has.
    #[getter(width)]
    fn py_width(&self) -> usize {
        self.width()
    }

    /// Each row's first `columns` cells (every cell by default) as the tuple psycopg gives for them: text as
    /// str, bytea as bytes, bool, int, timestamptz as int microseconds since 2000, NULL as None.
    #[pyo3(signature = (columns = None))]
    fn tuples<'py>(&self, py: Python<'py>, columns: Option<usize>) -> PyResult<Bound<'py, PyList>> {
        crate::errors::guard(py, || {
            let width = self.width();
            let take = columns.unwrap_or(width).min(width);
            let list = PyList::empty(py);
            for row in self.cells.chunks_exact(width) {
                let items = row[..take]
                    .iter()
                    .enumerate()
                    .map(|(column, cell)| self.cell_object(py, column, cell))
                    .collect::<PyResult<Vec<_>>>()?;
                list.append(PyTuple::new(py, items)?)?;
            }
            Ok(list)
        })
    }

    /// The stored bytes of bytea `column` of every row (NULL: empty) validated as `message` records, with
    /// their total size; `flytecodec.DecodeError` (its index: the row) for the first that is not valid.
    fn records(
        &self,
        py: Python<'_>,
        message: &str,
        column: usize,
    ) -> PyResult<(RecordList, usize)> {
        crate::errors::guard(py, || {
            let spans = self
                .column_cells(column)?
                .map(|cell| Span {
                    buffer: 0,
                    start: cell.start,
                    end: cell.start + cell.len.max(0) as usize,
                    offset: 0,
                })
                .collect::<Vec<_>>();
            validated(py, message, &self.buffer, spans)
        })
    }

    /// Integer or timestamptz `column` as the buffers of an Arrow int64 array: `(validity bitmap or None,
    /// values)`, little-endian; a timestamptz as microseconds since the Unix epoch. `OverflowError` for a time
    /// past int64 microseconds (±infinity among them: see `first_infinite`).
    fn int64s<'py>(
        &self,
        py: Python<'py>,
        column: usize,
    ) -> PyResult<(Option<Bound<'py, PyBytes>>, Bound<'py, PyBytes>)> {
        crate::errors::guard(py, || {
            let shift = match self.types.get(column) {
                Some(Type::Int) => 0,
                Some(Type::Timestamptz) => PG_EPOCH_MICROS,
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "column {column} is not an integer"
                    )))
                }
            };
            let buf = self.buffer.as_slice();
            let rows = self.rows();
            let mut values = Vec::with_capacity(rows * 8);
            let mut valid = vec![0u8; rows.div_ceil(8)];
            let mut nulls = false;
            for (i, cell) in self.column_cells(column)?.enumerate() {
                let value = match cell.value(buf) {
                    Some(value) => {
                        valid[i / 8] |= 1 << (i % 8);
                        integer(value).checked_add(shift).ok_or_else(|| {
                            PyOverflowError::new_err(format!(
                                "row {i}: column {column} does not fit int64 microseconds"
                            ))
                        })?
                    }
                    None => {
                        nulls = true;
                        0
                    }
                };
                values.extend_from_slice(&value.to_le_bytes());
            }
            let valid = nulls.then(|| PyBytes::new(py, &valid));
            Ok((valid, PyBytes::new(py, &values)))
        })
    }

    /// Text `column` as the buffers of an Arrow large_string array: `(validity bitmap or None, int64 offsets,
    /// data)`; `ValueError` for a value that is not UTF-8.
    #[allow(clippy::type_complexity)]
    fn strings<'py>(
        &self,
        py: Python<'py>,
        column: usize,
    ) -> PyResult<(
        Option<Bound<'py, PyBytes>>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    )> {
        crate::errors::guard(py, || {
            if self.types.get(column) != Some(&Type::Text) {
                return Err(PyValueError::new_err(format!(
                    "column {column} is not text"
                )));
            }
            let buf = self.buffer.as_slice();
            let rows = self.rows();
            let mut offsets = Vec::with_capacity((rows + 1) * 8);
            offsets.extend_from_slice(&0i64.to_le_bytes());
            let mut data = Vec::new();
            let mut valid = vec![0u8; rows.div_ceil(8)];
            let mut nulls = false;
            for (i, cell) in self.column_cells(column)?.enumerate() {
                match cell.value(buf) {
                    Some(value) => {
                        std::str::from_utf8(value).map_err(|_| {
                            PyValueError::new_err(format!(
                                "row {i}: text column {column} is not UTF-8"
                            ))
                        })?;
                        valid[i / 8] |= 1 << (i % 8);
                        data.extend_from_slice(value);
                    }
                    None => nulls = true,
                }
                offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
            }
            let valid = nulls.then(|| PyBytes::new(py, &valid));
            Ok((valid, PyBytes::new(py, &offsets), PyBytes::new(py, &data)))
        })
    }

    /// The first row whose timestamptz `column` is ±infinity, if any.
    fn first_infinite(&self, column: usize) -> PyResult<Option<usize>> {
        let buf = self.buffer.as_slice();
        Ok(self.column_cells(column)?.position(|cell| {
            cell.value(buf)
                .is_some_and(|v| integer(v).unsigned_abs() >= i64::MAX.unsigned_abs())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&3i32.to_be_bytes()); // a header extension, skipped
        out.extend_from_slice(b"ext");
        out
    }

    /// A tuple of `cells` (None: NULL).
    fn tuple(cells: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (cells.len() as i16).to_be_bytes().to_vec();
        for cell in cells {
            match cell {
                Some(value) => {
                    out.extend_from_slice(&(value.len() as i32).to_be_bytes());
                    out.extend_from_slice(value);
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        out
    }

    const TRAILER: [u8; 2] = [0xFF, 0xFF];

    /// Each row's cells, owned (None: NULL).
    type Rows = Vec<Vec<Option<Vec<u8>>>>;

    /// Text, bytea, bool, int8, timestamptz: three rows, with NULLs, an empty value and an int4.
    fn stream() -> (Vec<u8>, Rows) {
        let rows: Rows = vec![
            vec![
                Some(b"flytesnacks".to_vec()),
                Some(b"\x0a\x03abc".to_vec()),
                Some(vec![1]),
                Some(7i64.to_be_bytes().to_vec()),
                Some((-5i64).to_be_bytes().to_vec()),
            ],
            vec![Some(b"".to_vec()), None, None, None, None],
            vec![
                Some("é".as_bytes().to_vec()),
                Some(vec![0; 300]),
                Some(vec![0]),
                Some(3i32.to_be_bytes().to_vec()),
                Some(i64::MAX.to_be_bytes().to_vec()),
            ],
        ];
        let mut data = header();
        for row in &rows {
            let cells: Vec<Option<&[u8]>> = row.iter().map(|c| c.as_deref()).collect();
            data.extend(tuple(&cells));
        }
        data.extend(TRAILER);
        (data, rows)
    }

    fn parser() -> Parser {
        Parser::new(types("tb?iT").unwrap())
    }

    /// Every cell of every row taken from `parser`, as owned values.
    fn cells_of(parser: &mut Parser) -> Rows {
        let (buf, cells) = parser.take();
        cells
            .chunks(5)
            .map(|row| {
                row.iter()
                    .map(|c| c.value(&buf).map(<[u8]>::to_vec))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_stream_split_at_every_byte_gives_the_same_rows() {
        let (data, rows) = stream();
        for cut in 0..=data.len() {
            let mut parser = parser();
            let mut got = Vec::new();
            let first = parser.push(&data[..cut]).unwrap();
            got.extend(cells_of(&mut parser));
            let second = parser.push(&data[cut..]).unwrap();
            got.extend(cells_of(&mut parser));
            parser.finish().unwrap();
            assert_eq!(first + second, 3, "cut at {cut}");
            assert_eq!(got, rows, "cut at {cut}");
        }
    }

    #[test]
    fn a_stream_a_byte_at_a_time() {
        let (data, rows) = stream();
        let mut parser = parser();
        let mut counts = Vec::new();
        for byte in &data {
            counts.push(parser.push(&[*byte]).unwrap());
        }
        assert_eq!(*counts.last().unwrap(), 3);
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(cells_of(&mut parser), rows);
        parser.finish().unwrap();
    }

    #[test]
    fn integers_of_every_width() {
        assert_eq!(integer(&(-2i16).to_be_bytes()), -2);
        assert_eq!(integer(&(-70_000i32).to_be_bytes()), -70_000);
        assert_eq!(integer(&i64::MIN.to_be_bytes()), i64::MIN);
    }

    #[test]
    fn an_empty_result_is_a_header_and_a_trailer() {
        let mut parser = parser();
        let mut data = header();
        data.extend(TRAILER);
        assert_eq!(parser.push(&data).unwrap(), 0);
        parser.finish().unwrap();
    }

    #[test]
    fn malformed_streams_say_what_is_wrong() {
        let (data, _) = stream();
        let body = &data[header().len()..];
        let one = tuple(&[Some(b"x"), None, None, None, None]);
        let with = |flags: u32, rest: &[u8]| {
            let mut out = SIGNATURE.to_vec();
            out.extend_from_slice(&flags.to_be_bytes());
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(rest);
            out
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PGCOPY\n\xff\r\n\x01".to_vec(), "signature is missing"),
            (b"x".to_vec(), "signature is missing"),
            (b"1,2,3\n".to_vec(), "signature is missing"),
            (with(WITH_OIDS, body), "has OIDs"),
            (with(1, body), "flags 0x1"),
            (with(1 << 20, &TRAILER), ""), // a compatible flag: ignored
            (SIGNATURE[..5].to_vec(), "ended inside its header"),
            (
                data[..data.len() - 2].to_vec(),
                "at row 3: the stream ended without its trailer",
            ),
            (
                data[..data.len() - 3].to_vec(),
                "at row 2: the stream ended inside it",
            ),
            (
                [data.as_slice(), b"\x00"].concat(),
                "1 bytes after the trailer",
            ),
            (
                [header(), tuple(&[Some(b"x")])].concat(),
                "at row 0: 1 fields, not the 5 selected",
            ),
            (
                [header(), one.clone(), (-2i16).to_be_bytes().to_vec()].concat(),
                "at row 1: -2 fields",
            ),
            (
                [header(), tuple(&[None, None, Some(b"no"), None, None])].concat(),
                "column 2 has length 2, not one of a Bool",
            ),
            (
                [header(), tuple(&[None, None, None, Some(b"abc"), None])].concat(),
                "column 3 has length 3, not one of a Int",
            ),
            (
                [header(), tuple(&[None, None, None, None, Some(b"1234")])].concat(),
                "column 4 has length 4, not one of a Timestamptz",
            ),
            (
                [
                    header(),
                    5i16.to_be_bytes().to_vec(),
                    (-3i32).to_be_bytes().to_vec(),
                ]
                .concat(),
                "column 0 has length -3",
            ),
        ];
        for (data, expected) in cases {
            let mut parser = parser();
            match parser.push(&data).and_then(|_| parser.finish()) {
                Ok(()) => assert!(expected.is_empty(), "{data:?} passed"),
                Err(CopyError(message)) => {
                    assert!(
                        !expected.is_empty() && message.contains(expected),
                        "{message:?} lacks {expected:?}"
                    )
                }
            }
        }
    }

    #[test]
    fn unknown_column_types_are_refused() {
        assert!(types("tx").is_err());
        assert!(types("").is_err());
        assert_eq!(types("t?").unwrap(), vec![Type::Text, Type::Bool]);
    }
}
