//! The fuzz targets' checks, as plain functions: `fuzz_targets/*.rs` hand them libFuzzer's inputs, and
//! `tests/replay.rs` runs them over the seed corpus (and mutations of it) under a stable `cargo test`.
//!
//! Beyond "no panic", each target asserts what the decoder promises: spans in bounds and in order, the same
//! outcome on 1, 2 and more threads, records that re-walk cleanly once valid, and agreement between the fast
//! framing walk and a whole-message validation of the `*List` response (which is how upb sees the input);
//! and the column builders (`columns`) follow protobuf's merge rules on every record validation accepts; and
//! the deterministic re-serialization (`canonical`) accepts what validation accepts and is a fixed point.

use std::sync::OnceLock;

use _native::canonical::canonical;
use _native::columns::{ColumnSpec, Leaf, OutOfRange, Plan};
use _native::decode::{frame, frame_and_validate, validate_all, Checked, Framed, Framing, Span};
use _native::messages::{schema, Check, Kind, Schema};
use _native::wire::{
    little_endian, read_len, read_tag, read_varint, validate, walk, Fields, MAX_DEPTH,
};
use arrow_array::{Array, RecordBatch};

/// The records the `framing` target decodes, and the `*List` response holding each (none for a closure,
/// which flyteadmin stores one per row).
const RECORDS: [(&str, Option<&str>); 4] = [
    (
        "flyteidl.admin.Execution",
        Some("flyteidl.admin.ExecutionList"),
    ),
    (
        "flyteidl.admin.NodeExecution",
        Some("flyteidl.admin.NodeExecutionList"),
    ),
    (
        "flyteidl.admin.TaskExecution",
        Some("flyteidl.admin.TaskExecutionList"),
    ),
    ("flyteidl.admin.ExecutionClosure", None),
];

/// What the `wire` target validates every input as: records, closures, the `*List` responses, and small
/// messages with maps, packed fields, oneofs and deep recursion (`Literal`).
const WIRE_MESSAGES: [&str; 12] = [
    "flyteidl.admin.Execution",
    "flyteidl.admin.NodeExecution",
    "flyteidl.admin.TaskExecution",
    "flyteidl.admin.ExecutionClosure",
    "flyteidl.admin.NodeExecutionClosure",
    "flyteidl.admin.TaskExecutionClosure",
    "flyteidl.admin.ExecutionList",
    "flyteidl.admin.Labels",
    "flyteidl.admin.Notification",
    "flyteidl.core.Literal",
    "flyteidl.core.Identifier",
    "google.protobuf.Timestamp",
];

/// Inputs at least this long take `frame_and_validate`'s streaming path (framing on one thread while
/// others validate): `2 * BLOCK * 64` in `decode.rs`.
const STREAMING_BYTES: usize = 2 * 1024 * 64;
/// More spans than this make `validate_all` split them across threads (`2 * MIN_RECORDS_PER_THREAD`).
const THREADED_SPANS: usize = 2 * 2048;
/// At most this many record bytes are validated when the records are repeated past [`THREADED_SPANS`].
const REPEATED_BYTES: usize = 1 << 16;

fn find(s: &Schema, name: &str) -> usize {
    s.find(name)
        .unwrap_or_else(|| panic!("{name} is not in the schema"))
}

/// `framing` target. The first byte picks the record message (bits 0-1), the framing (bits 2-3: list,
/// delimited, message, or a list with its field numbers swapped) and, when bits 4-7 are all set,
/// amplification: the rest is repeated past the size where decoding goes multi-threaded, so the threaded
/// paths (which small inputs never reach) are fuzzed too. Amplified runs cost ~100 times more, hence only
/// one selector in 16. The rest of the input is the data.
pub fn framing(input: &[u8]) {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let s = schema();
    let (record_name, list_name) = RECORDS[usize::from(selector & 3)];
    let message = find(s, record_name);
    let framing = match (selector >> 2) & 3 {
        0 => Framing::List {
            records: 1,
            token: 2,
        },
        1 => Framing::Delimited,
        2 => Framing::Message,
        _ => Framing::List {
            records: 2,
            token: 1,
        },
    };
    let amplify = selector & 0xf0 == 0xf0;
    let owned;
    let buf: &[u8] = if amplify && !data.is_empty() {
        owned = data.repeat(STREAMING_BYTES.div_ceil(data.len()));
        &owned
    } else {
        data
    };

    let framed = frame(buf, framing);
    check_spans(buf, framing, &framed);
    let checked = validate_all(s, message, &[buf], &framed.spans, 1);
    check_outcome(s, message, buf, &framed.spans, &checked);

    // Streaming validation must agree with framing first and validating after, on any number of threads.
    for threads in [1, 2, 3] {
        let (f, c) = frame_and_validate(s, message, buf, framing, threads);
        assert_same_framing(&framed, &f, threads);
        assert_eq!(c, checked, "frame_and_validate on {threads} threads");
    }

    // A list is valid as upb parses the whole response exactly when its framing is sound, its records are
    // valid, and none nests too deep once counted from the list (the precedence `lib.rs` reports by).
    if let (Framing::List { records: 1, .. }, Some(list_name)) = (framing, list_name) {
        let whole = validate(s, find(s, list_name), buf).is_ok();
        let parts = framed.failure.is_none()
            && matches!(checked, Checked::Valid { deepest } if deepest < MAX_DEPTH);
        assert_eq!(
            whole, parts,
            "{list_name}: whole-message validation says {whole}, framing + records say {parts} ({checked:?}, {:?})",
            framed.failure
        );
    }

    // Many records split across threads: the same outcome as one thread over the same records. The records of
    // the input as given (not amplified) are repeated, within a byte budget so that each run stays fast.
    if amplify && !data.is_empty() {
        let small = frame(data, framing);
        let bytes: usize = small.spans.iter().map(|s| s.end - s.start).sum();
        let copies = (THREADED_SPANS + 1).div_ceil(small.spans.len().max(1));
        if !small.spans.is_empty() && copies * bytes <= REPEATED_BYTES {
            let one = validate_all(s, message, &[data], &small.spans, 1);
            let many: Vec<Span> = small.spans.repeat(copies);
            let all = validate_all(s, message, &[data], &many, 1);
            assert_eq!(all, one, "repeating the records changed the outcome");
            for threads in [2, 4] {
                let split = validate_all(s, message, &[data], &many, threads);
                assert_eq!(split, one, "validate_all on {threads} threads");
            }
        }
    }
}

/// Spans within the input, in order, each reported at or before its start; how each framing tiles the input.
fn check_spans(buf: &[u8], framing: Framing, framed: &Framed) {
    let mut previous_end = 0;
    for (i, span) in framed.spans.iter().enumerate() {
        assert_eq!(span.buffer, 0, "span {i}: one buffer only");
        assert!(
            span.offset <= span.start && span.start <= span.end && span.end <= buf.len(),
            "span {i} out of bounds: {span:?} in {} bytes",
            buf.len()
        );
        assert!(
            span.offset >= previous_end,
            "span {i} overlaps the one before: {span:?}"
        );
        previous_end = span.end;
    }
    if let Some(failure) = &framed.failure {
        assert_eq!(
            failure.index,
            framed.spans.len(),
            "a framing failure counts the records before it"
        );
        assert!(
            failure.offset >= previous_end && failure.offset < buf.len(),
            "framing failure at {} outside {previous_end}..{}",
            failure.offset,
            buf.len()
        );
    }
    match framing {
        Framing::Message => {
            let whole = Span {
                buffer: 0,
                start: 0,
                end: buf.len(),
                offset: 0,
            };
            assert_eq!(framed.spans, [whole]);
            assert!(framed.failure.is_none());
        }
        Framing::Delimited => {
            // back to back: each prefix starts where the record before ends, and the stream ends on a record
            let mut pos = 0;
            for span in &framed.spans {
                assert_eq!(span.offset, pos, "delimited records are back to back");
                let (len, after) = read_varint(buf, pos).expect("a framed record's prefix reads");
                assert_eq!(
                    (after as u64, span.end as u64),
                    (span.start as u64, after as u64 + len)
                );
                pos = span.end;
            }
            if framed.failure.is_none() {
                assert_eq!(pos, buf.len(), "a sound delimited stream ends on a record");
            }
            assert!(framed.token.is_empty());
        }
        Framing::List { .. } => {
            for span in &framed.spans {
                assert!(
                    span.offset < span.start,
                    "a list record has a tag and a length"
                );
            }
        }
    }
}

/// A valid batch re-walks record by record, with the sub-messages validation looked into valid on their own;
/// a failure names a record that exists and fails alone, and every record before it is valid.
fn check_outcome(s: &Schema, message: usize, buf: &[u8], spans: &[Span], checked: &Checked) {
    let record = |span: &Span| &buf[span.start..span.end];
    match *checked {
        Checked::Valid { deepest } => {
            assert!(deepest <= MAX_DEPTH, "valid records nest {deepest} deep");
            for span in spans {
                check_walk(s, message, record(span));
            }
        }
        Checked::Invalid { index, ref error } => {
            assert!(
                !error.reason.starts_with("internal error"),
                "{}",
                error.reason
            );
            assert!(
                index < spans.len(),
                "failing record {index} of {}",
                spans.len()
            );
            assert!(validate(s, message, record(&spans[index])).is_err());
            for span in &spans[..index] {
                assert!(validate(s, message, record(span)).is_ok());
            }
        }
    }
}

/// `walk` over a valid message: no error, fields tiling the message in order, the same fields as the
/// general [`Fields`] iterator, and every sub-message field valid alone (one level down; validation recursed).
fn check_walk(s: &Schema, message: usize, bytes: &[u8]) {
    let mut fields = Vec::new();
    let mut raws = Vec::new();
    walk(bytes, |number, wire, start, end, raw| {
        fields.push((number, wire, start, end));
        raws.push(raw);
    })
    .unwrap_or_else(|e| panic!("a valid record does not re-walk: {e:?}"));
    let mut pos = 0;
    for (&(number, wire, start, end), &raw) in fields.iter().zip(&raws) {
        // the value starts after its tag, which starts where the field before ended
        assert!(
            number > 0 && wire <= 5 && start > pos && start <= end,
            "field {number} at {start}..{end}"
        );
        // the value handed over is the varint's or the fixed value's bits, else 0
        let expected = match wire {
            0 => read_varint(bytes, start).expect("a valid varint").0,
            1 | 5 => little_endian(&bytes[start..end]),
            _ => 0,
        };
        assert_eq!(
            raw, expected,
            "field {number} at {start}..{end}: walk's value"
        );
        pos = end;
    }
    assert_eq!(pos, bytes.len(), "the fields of a valid record cover it");
    let general: Vec<_> = Fields::new(bytes)
        .map(|f| {
            let f = f.expect("Fields over a valid record");
            (f.number, f.wire, f.start, f.end)
        })
        .collect();
    assert_eq!(fields, general, "walk and Fields disagree");
    let def = &s.messages[message];
    for &(number, wire, start, end) in &fields {
        if let (2, Check::Message(inner)) = (wire, def.len_check(number)) {
            assert!(validate(s, inner, &bytes[start..end]).is_ok());
        }
    }
}

/// `wire` target: the input as each of [`WIRE_MESSAGES`]; its top level through `walk` and [`Fields`]; and
/// the varint, tag and length readers at every position. Nothing may panic, and the readers must agree.
/// The deterministic re-serialization (`canonical`, what `from_arrow` and upb's `deterministic=True` give)
/// takes exactly the valid messages, gives a valid message, and is a fixed point: made canonical again, the
/// bytes do not change.
fn check_canonical(s: &Schema, message: usize, name: &str, data: &[u8], valid: bool) {
    let made = canonical(s, message, data);
    assert_eq!(
        made.is_ok(),
        valid,
        "{name}: canonical {made:?} but validate says {valid}"
    );
    if let Ok(bytes) = made {
        assert!(
            validate(s, message, &bytes).is_ok(),
            "{name}: canonical bytes do not validate"
        );
        assert_eq!(
            canonical(s, message, &bytes).as_ref(),
            Ok(&bytes),
            "{name}: canonical is not a fixed point"
        );
    }
}

pub fn wire(data: &[u8]) {
    let s = schema();
    let walked = {
        let mut fields = Vec::new();
        walk(data, |number, wire, start, end, _| {
            fields.push((number, wire, start, end))
        })
        .map(|()| fields)
    };
    let general: Result<Vec<_>, _> = Fields::new(data)
        .map(|f| f.map(|f| (f.number, f.wire, f.start, f.end)))
        .collect();
    assert_eq!(
        walked.is_ok(),
        general.is_ok(),
        "walk {walked:?} vs Fields {general:?}"
    );
    if let (Ok(a), Ok(b)) = (&walked, &general) {
        assert_eq!(a, b, "walk and Fields disagree");
    }
    for name in WIRE_MESSAGES {
        let message = find(s, name);
        let valid = validate(s, message, data).is_ok();
        if valid {
            // a valid message is well-formed at its top level
            assert!(walked.is_ok(), "{name} is valid but does not walk");
            check_walk(s, message, data);
        }
        check_canonical(s, message, name, data, valid);
    }
    for pos in 0..=data.len() + 1 {
        let varint = read_varint(data, pos);
        if let Ok((_, after)) = varint {
            assert!(after > pos && after <= data.len() && after - pos <= 10);
        }
        if let Ok((len, after)) = read_len(data, pos) {
            assert!(after - pos <= 5);
            assert_eq!(varint, Ok((len as u64, after)), "read_len vs read_varint");
        }
        if let Ok((number, wire, after)) = read_tag(data, pos) {
            assert!(number > 0 && wire < 8 && after - pos <= 5);
            let key = u64::from(number) << 3 | u64::from(wire);
            assert_eq!(varint, Ok((key, after)), "read_tag vs read_varint");
        }
    }
}

/// `Framed` has no `PartialEq`: compare its parts.
fn assert_same_framing(a: &Framed, b: &Framed, threads: usize) {
    assert_eq!(a.spans, b.spans, "spans on {threads} threads");
    assert_eq!(a.token, b.token, "page token on {threads} threads");
    assert_eq!(a.failure, b.failure, "framing failure on {threads} threads");
}

/// The messages the `columns` target reads as records: the three record kinds and their closures.
const COLUMN_ROOTS: [&str; 6] = [
    "flyteidl.admin.Execution",
    "flyteidl.admin.NodeExecution",
    "flyteidl.admin.TaskExecution",
    "flyteidl.admin.ExecutionClosure",
    "flyteidl.admin.NodeExecutionClosure",
    "flyteidl.admin.TaskExecutionClosure",
];
/// How deep the `columns` target's paths go (flytecodec's own columns go 5 fields deep).
const COLUMN_DEPTH: usize = 5;

/// Whether message `index` is a `map<string, string>` entry.
fn is_string_map_entry(s: &Schema, index: usize) -> bool {
    let def = &s.messages[index];
    def.full_name.ends_with("Entry")
        && def.fields.len() == 2
        && def
            .fields
            .iter()
            .all(|f| !f.repeated && f.kind == Kind::String && (f.number == 1 || f.number == 2))
}

/// Every column a record of `message` can have: each field reachable through singular sub-messages (not
/// through a Timestamp, Duration or BoolValue, which are leaves), read as each leaf it fits.
fn all_columns(s: &Schema, message: usize, path: &mut Vec<u32>, out: &mut Vec<ColumnSpec>) {
    let enum_leaf = || {
        Leaf::Enum(
            vec![0, 1, 2],
            vec!["ZERO".into(), "ONE".into(), "TWO".into()],
        )
    };
    for field in &s.messages[message].fields {
        path.push(field.number);
        let leaves: Vec<Leaf> = match field.kind {
            Kind::Message(sub) if field.repeated && is_string_map_entry(s, sub) => vec![Leaf::Map],
            Kind::Message(_) if field.repeated => vec![],
            Kind::Message(_) if s.is_message(field.kind, "google.protobuf.Timestamp") => {
                vec![Leaf::Timestamp(OutOfRange::Raise)]
            }
            Kind::Message(_) if s.is_message(field.kind, "google.protobuf.Duration") => {
                vec![Leaf::Duration(OutOfRange::Raise)]
            }
            Kind::Message(_) if s.is_message(field.kind, "google.protobuf.BoolValue") => {
                vec![Leaf::BoolWrapper]
            }
            Kind::Message(sub) => {
                if path.len() < COLUMN_DEPTH {
                    all_columns(s, sub, path, out);
                }
                vec![]
            }
            Kind::String if field.repeated => vec![Leaf::List],
            _ if field.repeated => vec![],
            Kind::String => vec![Leaf::String],
            Kind::Int32 | Kind::SInt32 | Kind::SFixed32 => vec![Leaf::Int32],
            Kind::Int64 | Kind::SInt64 | Kind::SFixed64 => vec![Leaf::Int64],
            Kind::UInt32 | Kind::Fixed32 => vec![Leaf::UInt32],
            Kind::UInt64 | Kind::Fixed64 => vec![Leaf::UInt64],
            Kind::Bool => vec![Leaf::Bool],
            Kind::Enum => vec![enum_leaf(), Leaf::EnumNumber],
            _ => vec![],
        };
        let name = path
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        for (i, leaf) in leaves.into_iter().enumerate() {
            out.push(ColumnSpec {
                name: format!("{name}#{i}"),
                path: path.clone(),
                leaf,
            });
        }
        path.pop();
    }
}

/// The plan of every column of each of [`COLUMN_ROOTS`], made once.
fn column_plans() -> &'static [(usize, Plan, Vec<ColumnSpec>)] {
    static PLANS: OnceLock<Vec<(usize, Plan, Vec<ColumnSpec>)>> = OnceLock::new();
    PLANS.get_or_init(|| {
        let s = schema();
        COLUMN_ROOTS
            .iter()
            .map(|name| {
                let message = find(s, name);
                let mut columns = Vec::new();
                all_columns(s, message, &mut Vec::new(), &mut columns);
                assert!(columns.len() > 20, "{name}: only {} columns", columns.len());
                let plan = Plan::new(s, message, columns.clone())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                (message, plan, columns)
            })
            .collect()
    })
}

/// Build the columns of `records` (each given as parts of `buffer`); `Err` only for a time outside Arrow's
/// int64 microseconds, the one error the builders may give a valid record.
fn build(plan: &Plan, buffer: &[u8], records: &[Vec<(usize, usize)>]) -> Option<RecordBatch> {
    let mut builders = plan.builders(records.len());
    let mut scratch = plan.scratch();
    for (row, parts) in records.iter().enumerate() {
        if let Err(e) = plan.append(buffer, parts, &mut builders, &mut scratch, row) {
            assert!(
                e.contains("outside Arrow's int64 range"),
                "a valid record fails to build: {e}"
            );
            return None;
        }
    }
    Some(
        plan.finish(builders, records.len())
            .unwrap_or_else(|e| panic!("finish: {e}")),
    )
}

/// Whether rows `a` and `b` of column `column` hold the same value (or are both null).
fn same_row(batch: &RecordBatch, column: usize, a: usize, b: usize) -> bool {
    let array = batch.column(column);
    array.slice(a, 1).as_ref() == array.slice(b, 1).as_ref()
}

/// `columns` target: the first byte picks the record message, the rest is the record. Records that
/// validation refuses are not built (the decoder refuses them first). For a valid record, every column of
/// every field the column builders can read (`columns.rs`) is built, and protobuf's merge rules must hold:
/// the record split in two at any top-level field boundary reads as the whole; the record twice in a row
/// (upb merges the copies) reads as the record once, but for repeated strings, which it doubles; the empty
/// message reads as nulls, and as zeros where a number, bool or enum sits in the record itself.
pub fn columns(input: &[u8]) {
    let Some((&selector, record)) = input.split_first() else {
        return;
    };
    let s = schema();
    let plans = column_plans();
    let (message, plan, specs) = &plans[usize::from(selector) % plans.len()];
    if validate(s, *message, record).is_err() {
        return;
    }
    let mut boundaries = Vec::new();
    walk(record, |_, _, _, end, _| boundaries.push(end)).expect("a valid record walks");
    let cut = boundaries
        .get(usize::from(selector >> 3) % boundaries.len().max(1))
        .copied()
        .unwrap_or(0);
    let doubled = [record, record].concat();
    let buffer = [record, &doubled[..]].concat();
    let n = record.len();
    let rows = [
        vec![(0, n)],
        vec![(0, cut), (cut, n)],
        vec![(n, 3 * n)],
        vec![(0, 0)],
    ];
    let Some(batch) = build(plan, &buffer, &rows) else {
        return;
    };
    assert_eq!(batch.num_rows(), rows.len());
    for (c, spec) in specs.iter().enumerate() {
        let array = batch.column(c);
        assert!(
            same_row(&batch, c, 0, 1),
            "column {}: the record split at byte {cut} reads differently",
            spec.name
        );
        if spec.leaf != Leaf::List {
            assert!(
                same_row(&batch, c, 0, 2),
                "column {}: the record merged with itself reads differently",
                spec.name
            );
        }
        let numeric = matches!(
            spec.leaf,
            Leaf::Int32
                | Leaf::Int64
                | Leaf::UInt32
                | Leaf::UInt64
                | Leaf::Bool
                | Leaf::Enum(..)
                | Leaf::EnumNumber
        );
        assert_eq!(
            array.is_valid(3),
            numeric && spec.path.len() == 1,
            "column {}: the empty record",
            spec.name
        );
    }
}
