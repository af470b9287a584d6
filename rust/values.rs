//! Python values from wire values, made through the C API: int, float, bool, str, bytes, and the
//! datetimes and timedeltas of `google.protobuf.Timestamp` / `Duration`, converted exactly as
//! `python/flytecodec/_values.py` converts them (same values, same errors).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateTime, PyDelta, PyString, PyTzInfo};
use pyo3::IntoPyObjectExt;

use crate::messages::Kind;

const MIN_SECONDS: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_SECONDS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// A scalar wire value of `kind` (already known to have the kind's wire type) as a Python object.
/// `raw` is the varint, or the little-endian fixed value; `payload` the bytes of a length-delimited one.
pub fn scalar<'py>(
    py: Python<'py>,
    kind: Kind,
    raw: u64,
    payload: &[u8],
) -> PyResult<Bound<'py, PyAny>> {
    match kind {
        Kind::Int32 | Kind::Enum | Kind::SFixed32 | Kind::SInt32 => {
            (signed(kind, raw) as i32).into_bound_py_any(py)
        }
        Kind::Int64 | Kind::SFixed64 | Kind::SInt64 => signed(kind, raw).into_bound_py_any(py),
        Kind::UInt32 | Kind::Fixed32 => (raw as u32).into_bound_py_any(py),
        Kind::UInt64 | Kind::Fixed64 => raw.into_bound_py_any(py),
        Kind::Bool => (raw != 0).into_bound_py_any(py),
        Kind::Float => f64::from(f32::from_bits(raw as u32)).into_bound_py_any(py),
        Kind::Double => f64::from_bits(raw).into_bound_py_any(py),
        // CPython checks the UTF-8 as it decodes (once, not also here)
        Kind::String => PyString::from_bytes(py, payload)
            .map(Bound::into_any)
            .map_err(|_| PyValueError::new_err("string field has invalid UTF-8")),
        Kind::Bytes => Ok(PyBytes::new(py, payload).into_any()),
        Kind::Message(_) | Kind::Group => Err(PyValueError::new_err("not a scalar field")),
    }
}

/// The value of a signed integer field of `kind` from its raw wire value, as protobuf reads it: a 32-bit
/// kind keeps the low 32 bits, an sint is zigzag-decoded (after that truncation for sint32).
pub fn signed(kind: Kind, raw: u64) -> i64 {
    match kind {
        Kind::SInt32 => {
            let v = raw as u32;
            i64::from(((v >> 1) as i32) ^ -((v & 1) as i32))
        }
        Kind::SInt64 => ((raw >> 1) as i64) ^ -((raw & 1) as i64),
        Kind::Int32 | Kind::Enum | Kind::SFixed32 => i64::from(raw as u32 as i32),
        _ => raw as i64,
    }
}

/// The default value of a scalar kind (what an unset proto3 field reads as).
pub fn default_scalar(py: Python<'_>, kind: Kind) -> PyResult<Bound<'_, PyAny>> {
    scalar(py, kind, 0, b"")
}

/// Nanoseconds to microseconds, rounded toward zero (as protobuf does).
fn micros(nanos: i64) -> i64 {
    nanos / 1000
}

/// `datetime` of a Timestamp: timezone-aware UTC when `aware`, else naive UTC.
pub fn timestamp(
    py: Python<'_>,
    seconds: i64,
    nanos: i32,
    aware: bool,
) -> PyResult<Bound<'_, PyAny>> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(PyValueError::new_err(format!(
            "Timestamp is not valid: Seconds {seconds} must be in range [-62135596800, 253402300799]."
        )));
    }
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(PyValueError::new_err(format!(
            "Timestamp is not valid: Nanos {nanos} must be in a range [0, 999999999]."
        )));
    }
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        (secs / 3600) as u8,
        ((secs / 60) % 60) as u8,
        (secs % 60) as u8,
    );
    let micro = micros(i64::from(nanos)) as u32;
    let utc;
    let tz = if aware {
        utc = PyTzInfo::utc(py)?.to_owned();
        Some(&utc)
    } else {
        None
    };
    Ok(PyDateTime::new(py, year, month, day, hour, minute, second, micro, tz)?.into_any())
}

/// `timedelta` of a Duration, as ``timedelta(0, seconds, micros)``.
pub fn duration(py: Python<'_>, seconds: i64, nanos: i32) -> PyResult<Bound<'_, PyAny>> {
    let micro = micros(i64::from(nanos));
    let total = i128::from(seconds) * 1_000_000 + i128::from(micro);
    let days = total.div_euclid(86_400_000_000);
    let rest = total.rem_euclid(86_400_000_000);
    if days.abs() > 999_999_999 {
        // out of timedelta's range: let Python say so, in its own words
        let timedelta = py.import("datetime")?.getattr("timedelta")?;
        return timedelta.call1((0, seconds, micro));
    }
    let (secs, us) = ((rest / 1_000_000) as i32, (rest % 1_000_000) as i32);
    Ok(PyDelta::new(py, days as i32, secs, us, false)?.into_any())
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
