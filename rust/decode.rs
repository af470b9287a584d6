//! Framing and batch validation, without Python: split an input into record spans (`list`, `delimited`,
//! one `message`, or a sequence of buffers) and check every record as upb would, across threads.
//!
//! Where a bad input is reported follows the python backend exactly (see `python/flytecodec/bulk.py`):
//! * list: the first problem in wire order — a record (its index, its tag's offset) or a break in the
//!   list's own framing or page token (the number of records before it, the broken field's tag offset);
//!   a record too deep only when counted from the list is a bad record too (its index, its tag's offset);
//! * delimited: a broken length prefix first (the records before it, the prefix's offset), then the
//!   first bad record (its index, its prefix's offset);
//! * message and sequence items: the first bad record, offset 0.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex, OnceLock};

use crate::messages::Schema;
use crate::wire::{
    read_len, read_tag, read_varint, validate_at_depth, WireError, LENGTH_PAST_END, MAX_DEPTH,
};

/// A record: which buffer, and its byte range there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub buffer: usize,
    pub start: usize,
    pub end: usize,
    /// Where the record is reported to start (its tag or length prefix), in its buffer.
    pub offset: usize,
}

/// One span per buffer, each buffer a whole record of the given length (a sequence's items).
pub fn whole_spans(lens: impl Iterator<Item = usize>) -> Vec<Span> {
    lens.enumerate()
        .map(|(buffer, end)| Span {
            buffer,
            start: 0,
            end,
            offset: 0,
        })
        .collect()
}

/// A decode failure: which record, where it starts, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeFailure {
    pub index: usize,
    pub offset: usize,
    pub reason: String,
}

/// The framings of a bytes input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// A `*List` response: records are field `records`, the page token is field `token`.
    List {
        records: u32,
        token: u32,
    },
    Delimited,
    Message,
}

/// The spans of the records of `buf`, and the page token of a list, or the first framing failure
/// (with the records found before it, which may hold an earlier failure for a list).
pub struct Framed {
    pub spans: Vec<Span>,
    pub token: String,
    pub failure: Option<DecodeFailure>,
}

pub fn frame(buf: &[u8], framing: Framing) -> Framed {
    frame_with(buf, framing, &mut |_| {})
}

/// [`frame`], handing each block of [`BLOCK`] new spans to `publish` as soon as it is framed.
fn frame_with(buf: &[u8], framing: Framing, publish: &mut dyn FnMut(&[Span])) -> Framed {
    let framed = match framing {
        Framing::Message => Framed {
            spans: vec![Span {
                buffer: 0,
                start: 0,
                end: buf.len(),
                offset: 0,
            }],
            token: String::new(),
            failure: None,
        },
        Framing::Delimited => frame_delimited(buf, publish),
        Framing::List { records, token } => frame_list(buf, records, token, publish),
    };
    let published = framed.spans.len() / BLOCK * BLOCK;
    publish(&framed.spans[published..]);
    framed
}

/// How many records a framing thread hands over at a time.
const BLOCK: usize = 1024;

fn frame_delimited(buf: &[u8], publish: &mut dyn FnMut(&[Span])) -> Framed {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let (len, start) = match read_varint(buf, pos) {
            Ok(v) => v,
            Err(e) => {
                let reason = format!("bad length prefix: {}", e.reason);
                return failed_at(spans, String::new(), pos, reason);
            }
        };
        let remaining = (buf.len() - start) as u64;
        if len > remaining {
            let reason = format!("length prefix claims {len} bytes but {remaining} remain");
            return failed_at(spans, String::new(), pos, reason);
        }
        let end = start + len as usize;
        spans.push(Span {
            buffer: 0,
            start,
            end,
            offset: pos,
        });
        if spans.len() % BLOCK == 0 {
            publish(&spans[spans.len() - BLOCK..]);
        }
        pos = end;
    }
    Framed {
        spans,
        token: String::new(),
        failure: None,
    }
}

fn frame_list(
    buf: &[u8],
    records: u32,
    token_field: u32,
    publish: &mut dyn FnMut(&[Span]),
) -> Framed {
    let mut spans = Vec::new();
    let mut token = String::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag_offset = pos;
        let field = read_tag(buf, pos).and_then(|(number, wire, after)| {
            let (start, end) = skip_value(buf, after, number, wire, tag_offset)?;
            Ok((number, wire, start, end))
        });
        let (number, wire, start, end) = match field {
            Ok(f) => f,
            Err(e) => {
                let reason = e.reason.to_string();
                return failed_at(spans, token, tag_offset, reason);
            }
        };
        if number == records && wire == 2 {
            spans.push(Span {
                buffer: 0,
                start,
                end,
                offset: tag_offset,
            });
            if spans.len() % BLOCK == 0 {
                publish(&spans[spans.len() - BLOCK..]);
            }
        } else if number == token_field && wire == 2 {
            match std::str::from_utf8(&buf[start..end]) {
                Ok(t) => token = t.to_string(),
                Err(_) => {
                    return failed_at(spans, token, tag_offset, "page token: invalid UTF-8".into());
                }
            }
        }
        pos = end;
    }
    Framed {
        spans,
        token,
        failure: None,
    }
}

/// The framing so far, stopped by a failure at `offset` (after the records found).
fn failed_at(spans: Vec<Span>, token: String, offset: usize, reason: String) -> Framed {
    let failure = DecodeFailure {
        index: spans.len(),
        offset,
        reason,
    };
    Framed {
        spans,
        token,
        failure: Some(failure),
    }
}

/// The value span of a top-level field of a list (payload only for length-delimited fields).
fn skip_value(
    buf: &[u8],
    after_tag: usize,
    number: u32,
    wire: u8,
    tag_offset: usize,
) -> Result<(usize, usize), WireError> {
    match wire {
        2 => {
            let (len, start) = read_len(buf, after_tag).map_err(|e| WireError {
                offset: tag_offset,
                reason: e.reason,
            })?;
            let end = start
                .checked_add(len)
                .filter(|&end| end <= buf.len())
                .ok_or(WireError {
                    offset: tag_offset,
                    reason: LENGTH_PAST_END,
                })?;
            Ok((start, end))
        }
        _ => {
            let end = crate::wire::skip_field_value(buf, after_tag, number, wire, tag_offset)?;
            Ok((after_tag, end))
        }
    }
}

/// Frame `buf` and validate its records as messages `message` on up to `threads` threads, validating
/// the blocks already framed while the rest is still being framed (framing is sequential and waits on
/// memory; validation streams).
pub fn frame_and_validate(
    schema: &Schema,
    message: usize,
    buf: &[u8],
    framing: Framing,
    threads: usize,
) -> (Framed, Checked) {
    if threads <= 1 || buf.len() < 2 * BLOCK * 64 {
        let framed = frame(buf, framing);
        let checked = validate_all(schema, message, &[buf], &framed.spans, threads);
        return (framed, checked);
    }
    struct Queue {
        blocks: VecDeque<(usize, Vec<Span>)>,
        framed: usize,
        done: bool,
    }
    let queue = Mutex::new(Queue {
        blocks: VecDeque::new(),
        framed: 0,
        done: false,
    });
    let ready = Condvar::new();
    let work = || -> Checked {
        let mut outcome = Checked::Valid { deepest: 0 };
        loop {
            let next = {
                let Ok(mut q) = queue.lock() else {
                    return internal_error();
                };
                loop {
                    if let Some(block) = q.blocks.pop_front() {
                        break Some(block);
                    }
                    if q.done {
                        break None;
                    }
                    q = match ready.wait(q) {
                        Ok(q) => q,
                        Err(_) => return internal_error(),
                    };
                }
            };
            let Some((first, spans)) = next else {
                return outcome;
            };
            outcome = merge(
                outcome,
                offset_index(validate_all(schema, message, &[buf], &spans, 1), first),
            );
        }
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let framed = frame_with(buf, framing, &mut |spans| {
            if let Ok(mut q) = queue.lock() {
                let first = q.framed;
                q.framed += spans.len();
                q.blocks.push_back((first, spans.to_vec()));
                ready.notify_one();
            }
        });
        if let Ok(mut q) = queue.lock() {
            q.done = true;
        }
        ready.notify_all();
        let mut checked = work();
        for worker in workers {
            checked = merge(checked, worker.join().unwrap_or_else(|_| internal_error()));
        }
        (framed, checked)
    })
}

fn internal_error() -> Checked {
    Checked::Invalid {
        index: 0,
        error: WireError {
            offset: 0,
            reason: "internal error: a decoding thread failed",
        },
    }
}

fn offset_index(checked: Checked, first: usize) -> Checked {
    match checked {
        Checked::Invalid { index, error } => Checked::Invalid {
            index: index + first,
            error,
        },
        valid => valid,
    }
}

/// The outcome of two parts of a batch: the lower failing index, or the deeper nesting.
fn merge(a: Checked, b: Checked) -> Checked {
    match (a, b) {
        (Checked::Valid { deepest: x }, Checked::Valid { deepest: y }) => {
            Checked::Valid { deepest: x.max(y) }
        }
        (Checked::Invalid { index: i, error: e }, Checked::Invalid { index: j, .. }) if i <= j => {
            Checked::Invalid { index: i, error: e }
        }
        (Checked::Invalid { .. }, invalid @ Checked::Invalid { .. }) => invalid,
        (invalid @ Checked::Invalid { .. }, _) | (_, invalid @ Checked::Invalid { .. }) => invalid,
    }
}

/// The outcome of validating a batch of records.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// Every record is valid; `deepest` is the deepest nesting any reached (each standing alone).
    Valid { deepest: u32 },
    /// The first failing record (lowest index) and why.
    Invalid { index: usize, error: WireError },
}

/// Validate `spans` of `buffers` as messages `message`, each standing alone, on up to `threads` threads.
pub fn validate_all(
    schema: &Schema,
    message: usize,
    buffers: &[&[u8]],
    spans: &[Span],
    threads: usize,
) -> Checked {
    let check = |chunk: &[Span], first: usize| -> Checked {
        let mut deepest = 0;
        for (i, span) in chunk.iter().enumerate() {
            let bytes = &buffers[span.buffer][span.start..span.end];
            match validate_at_depth(schema, message, bytes, 0) {
                Ok(d) => deepest = deepest.max(d),
                Err(error) => {
                    return Checked::Invalid {
                        index: first + i,
                        error,
                    }
                }
            }
        }
        Checked::Valid { deepest }
    };
    let threads = threads
        .max(1)
        .min(spans.len().div_ceil(MIN_RECORDS_PER_THREAD).max(1));
    if threads == 1 {
        return check(spans, 0);
    }
    let size = spans.len().div_ceil(threads);
    let results: Vec<Checked> = std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .chunks(size)
            .enumerate()
            .map(|(k, chunk)| scope.spawn(move || check(chunk, k * size)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(Checked::Invalid {
                    index: 0,
                    error: WireError {
                        offset: 0,
                        reason: "internal error: a decoding thread panicked",
                    },
                })
            })
            .collect()
    });
    let mut deepest = 0;
    for result in results {
        match result {
            Checked::Valid { deepest: d } => deepest = deepest.max(d),
            invalid => return invalid, // chunks are in order: the first invalid chunk has the lowest index
        }
    }
    Checked::Valid { deepest }
}

/// The index of the first of `spans` of `buf` that is valid alone but nests [`MAX_DEPTH`] levels or more
/// (too deep one level further down, as a record of a list).
pub fn first_too_deep(
    schema: &Schema,
    message: usize,
    buf: &[u8],
    spans: &[Span],
) -> Option<usize> {
    spans.iter().position(|span| {
        matches!(
            validate_at_depth(schema, message, &buf[span.start..span.end], 0),
            Ok(deepest) if deepest >= MAX_DEPTH
        )
    })
}

/// Below this many records per thread, one thread is faster than starting more.
const MIN_RECORDS_PER_THREAD: usize = 2048;

/// The number of threads to decode with: the cores this process may use (asked once).
pub fn default_threads() -> usize {
    // the answer reads cgroup files: asking on every call cost more than decoding a small page
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(NonZeroUsize::get)
            .unwrap_or(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::schema;

    fn delimited(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            out.push(r.len() as u8);
            out.extend_from_slice(r);
        }
        out
    }

    #[test]
    fn delimited_framing() {
        let data = delimited(&[b"\x0a\x00", b"", b"\x0a\x02\x0a\x00"]);
        let framed = frame(&data, Framing::Delimited);
        assert!(framed.failure.is_none());
        let ends: Vec<_> = framed
            .spans
            .iter()
            .map(|s| (s.offset, s.start, s.end))
            .collect();
        assert_eq!(ends, vec![(0, 1, 3), (3, 4, 4), (4, 5, 9)]);
        let truncated = frame(&data[..7], Framing::Delimited);
        let failure = truncated.failure.expect("truncated");
        assert_eq!((failure.index, failure.offset), (2, 4));
    }

    #[test]
    fn list_framing_and_token() {
        // executions: two records, then token "t"
        let data = b"\x0a\x00\x0a\x02\x0a\x00\x12\x01t";
        let framed = frame(
            data,
            Framing::List {
                records: 1,
                token: 2,
            },
        );
        assert!(framed.failure.is_none());
        assert_eq!(framed.spans.len(), 2);
        assert_eq!(framed.token, "t");
        let bad = frame(
            b"\x0a\x00\x12\x01\xff",
            Framing::List {
                records: 1,
                token: 2,
            },
        );
        let failure = bad.failure.expect("bad token");
        assert_eq!((failure.index, failure.offset), (1, 2));
    }

    #[test]
    fn parallel_validation_reports_the_lowest_index() {
        let s = schema();
        let id = s.find("flyteidl.core.Identifier").expect("Identifier");
        let good: &[u8] = b"\x12\x01a";
        let bad: &[u8] = b"\x12\x01\xff";
        let mut buffers: Vec<&[u8]> = vec![good; 10_000];
        buffers[7_000] = bad;
        buffers[9_000] = bad;
        let spans = whole_spans(buffers.iter().map(|b| b.len()));
        let found = validate_all(s, id, &buffers, &spans, 4);
        assert!(matches!(found, Checked::Invalid { index: 7_000, .. }));
        let fine = validate_all(s, id, &buffers[..5000], &spans[..5000], 4);
        assert_eq!(fine, Checked::Valid { deepest: 0 });
    }
}
