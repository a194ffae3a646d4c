//! Reading columns of Parquet exports that other tools wrote, tolerantly but never
//! silently wrong.
//!
//! maestro-hive, pyarrow, Spark and polars each pick their own physical types for the
//! same logical column: `utf8`, `large_utf8` or `utf8_view` strings, `binary` or
//! `utf8` file contents, `list` or `large_list`, timestamps in any unit with or without
//! a zone. [`check_columns`] accepts every such variant and rejects anything else with
//! an error naming the file, the column, what was expected and what was found; the
//! accessors then read values without further type checks.

use std::path::Path;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, GenericListArray, LargeBinaryArray, LargeStringArray, StringArray,
    StringViewArray, StructArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::CoreError;

/// The logical kind a column must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Text: `utf8`, `large_utf8`, `utf8_view`.
    Text,
    /// An instant: any timestamp type (zone-less values are taken as UTC), or RFC 3339 text.
    Timestamp,
    /// Files: `list`/`large_list` of `struct<path: text, content: text or binary>`.
    Files,
}

impl ColumnKind {
    pub fn expected(self) -> &'static str {
        match self {
            Self::Text => "utf8, large_utf8 or utf8_view",
            Self::Timestamp => "timestamp (any unit) or RFC 3339 text",
            Self::Files => "list<struct<path: utf8, content: binary or utf8>>",
        }
    }

    fn accepts(self, data_type: &DataType) -> bool {
        match self {
            // A column of nulls only may be typed `null` by its writer (pyarrow infers
            // that from an all-None column): every value is missing, which the rows'
            // own checks quarantine; it is not a schema error.
            _ if *data_type == DataType::Null => true,
            Self::Text => is_text(data_type),
            Self::Timestamp => matches!(data_type, DataType::Timestamp(_, _)) || is_text(data_type),
            Self::Files => files_entry_fields(data_type).is_some_and(|(path, content)| {
                is_text(path.data_type()) && (is_text(content.data_type()) || is_bytes(content.data_type()))
            }),
        }
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_bytes(t: &DataType) -> bool {
    matches!(t, DataType::Binary | DataType::LargeBinary | DataType::BinaryView)
}

fn files_entry_fields(data_type: &DataType) -> Option<(&Field, &Field)> {
    let (DataType::List(item) | DataType::LargeList(item)) = data_type else {
        return None;
    };
    let DataType::Struct(fields) = item.data_type() else { return None };
    let path = fields.iter().find(|f| f.name() == "path")?;
    let content = fields.iter().find(|f| f.name() == "content")?;
    Some((path.as_ref(), content.as_ref()))
}

/// Checks that `schema` (of the file at `path`) has each required column with an
/// acceptable type.
pub fn check_columns(path: &Path, schema: &Schema, required: &[(&str, ColumnKind)]) -> Result<(), CoreError> {
    for (name, kind) in required {
        let Ok(field) = schema.field_with_name(name) else {
            return Err(CoreError::MissingColumn {
                path: path.to_owned(),
                column: (*name).to_owned(),
                found: schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
            });
        };
        if !kind.accepts(field.data_type()) {
            return Err(CoreError::WrongColumnType {
                path: path.to_owned(),
                column: (*name).to_owned(),
                expected: kind.expected().to_owned(),
                found: field.data_type().to_string(),
            });
        }
    }
    Ok(())
}

/// Text values of a checked text column.
pub enum TextColumn<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
    /// A column typed `null`: every value is missing.
    Null,
}

impl<'a> TextColumn<'a> {
    /// Wraps a text array; `None` for another type.
    pub fn new(array: &'a dyn Array) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => Some(Self::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Some(Self::Large(array.as_string::<i64>())),
            DataType::Utf8View => Some(Self::View(array.as_string_view())),
            DataType::Null => Some(Self::Null),
            _ => None,
        }
    }

    /// The value at `row`, `None` when null.
    pub fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            Self::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            Self::Large(a) => a.is_valid(row).then(|| a.value(row)),
            Self::View(a) => a.is_valid(row).then(|| a.value(row)),
            Self::Null => None,
        }
    }
}

/// Byte values of a text or binary column.
pub enum BytesColumn<'a> {
    Text(TextColumn<'a>),
    Binary(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
}

impl<'a> BytesColumn<'a> {
    /// Wraps a text or binary array; `None` for another type.
    pub fn new(array: &'a dyn Array) -> Option<Self> {
        match array.data_type() {
            DataType::Binary => Some(Self::Binary(array.as_binary::<i32>())),
            DataType::LargeBinary => Some(Self::Large(array.as_binary::<i64>())),
            DataType::BinaryView => Some(Self::View(array.as_binary_view())),
            _ => TextColumn::new(array).map(Self::Text),
        }
    }

    /// The value at `row`, `None` when null.
    pub fn get(&self, row: usize) -> Option<&'a [u8]> {
        match self {
            Self::Text(t) => t.get(row).map(str::as_bytes),
            Self::Binary(a) => a.is_valid(row).then(|| a.value(row)),
            Self::Large(a) => a.is_valid(row).then(|| a.value(row)),
            Self::View(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

/// Instants of a checked timestamp column.
pub enum TimestampColumn<'a> {
    Native {
        values: &'a [i64],
        nulls: Option<&'a arrow::buffer::NullBuffer>,
        unit: TimeUnit,
    },
    Text(TextColumn<'a>),
}

impl<'a> TimestampColumn<'a> {
    /// Wraps a timestamp or text array; `None` for another type.
    pub fn new(array: &'a dyn Array) -> Option<Self> {
        if let DataType::Timestamp(unit, _) = array.data_type() {
            let values: &[i64] = match unit {
                TimeUnit::Second => array.as_primitive::<arrow::datatypes::TimestampSecondType>().values(),
                TimeUnit::Millisecond => array.as_primitive::<arrow::datatypes::TimestampMillisecondType>().values(),
                TimeUnit::Microsecond => array.as_primitive::<arrow::datatypes::TimestampMicrosecondType>().values(),
                TimeUnit::Nanosecond => array.as_primitive::<arrow::datatypes::TimestampNanosecondType>().values(),
            };
            return Some(Self::Native {
                values,
                nulls: array.nulls(),
                unit: *unit,
            });
        }
        TextColumn::new(array).map(Self::Text)
    }

    /// The instant at `row`: `None` when null, `Some(Err(text))` when unparseable.
    pub fn get(&self, row: usize) -> Option<Result<DateTime<Utc>, String>> {
        match self {
            Self::Native { values, nulls, unit } => {
                if nulls.is_some_and(|n| n.is_null(row)) {
                    return None;
                }
                let v = values[row];
                let instant = match unit {
                    TimeUnit::Second => DateTime::from_timestamp(v, 0),
                    TimeUnit::Millisecond => DateTime::from_timestamp_millis(v),
                    TimeUnit::Microsecond => DateTime::from_timestamp_micros(v),
                    TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(v)),
                };
                Some(instant.ok_or_else(|| format!("{v} ({unit:?}) is out of range")))
            }
            Self::Text(t) => t.get(row).map(|s| parse_instant(s).ok_or_else(|| s.to_owned())),
        }
    }
}

/// Parses an RFC 3339 instant (any offset, converted to UTC), or a zone-less
/// `YYYY-MM-DDTHH:MM:SS[.fff]` taken as UTC.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(text, fmt).ok())
        .map(|t| t.and_utc())
}

/// One `{path, content}` entry of a files column; either part may be null.
pub type FileEntry<'a> = (Option<&'a str>, Option<&'a [u8]>);

/// The files lists of a checked files column.
pub struct FilesColumn<'a>(Option<FilesLists<'a>>);

/// The lists of a files column that is not typed `null`.
struct FilesLists<'a> {
    offsets: Vec<usize>,
    list_nulls: Option<&'a arrow::buffer::NullBuffer>,
    entries: &'a StructArray,
    paths: TextColumn<'a>,
    /// Absent when the reader projected only the paths.
    contents: Option<BytesColumn<'a>>,
}

impl<'a> FilesColumn<'a> {
    /// Wraps a files array; `None` for another type. The `content` child may be absent
    /// (a projection of the paths only); entries then have no content.
    pub fn new(array: &'a ArrayRef) -> Option<Self> {
        if *array.data_type() == DataType::Null {
            return Some(Self(None));
        }
        let (offsets, values, list_nulls): (Vec<usize>, &ArrayRef, _) = match array.data_type() {
            DataType::List(_) => {
                let list: &GenericListArray<i32> = array.as_list();
                (
                    list.value_offsets().iter().map(|&o| o as usize).collect(),
                    list.values(),
                    list.nulls(),
                )
            }
            DataType::LargeList(_) => {
                let list: &GenericListArray<i64> = array.as_list();
                (
                    list.value_offsets().iter().map(|&o| o as usize).collect(),
                    list.values(),
                    list.nulls(),
                )
            }
            _ => return None,
        };
        let entries = values.as_struct_opt()?;
        let paths = TextColumn::new(entries.column_by_name("path")?.as_ref())?;
        let contents = match entries.column_by_name("content") {
            Some(c) => Some(BytesColumn::new(c.as_ref())?),
            None => None,
        };
        Some(Self(Some(FilesLists {
            offsets,
            list_nulls,
            entries,
            paths,
            contents,
        })))
    }

    /// The entries of row `row`; `None` when the list itself is null. A null entry is
    /// returned as `(None, None)`.
    pub fn get(&self, row: usize) -> Option<Vec<FileEntry<'a>>> {
        let this = self.0.as_ref()?;
        if this.list_nulls.is_some_and(|n| n.is_null(row)) {
            return None;
        }
        let (start, end) = (this.offsets[row], this.offsets[row + 1]);
        Some(
            (start..end)
                .map(|i| {
                    if this.entries.is_null(i) {
                        (None, None)
                    } else {
                        (this.paths.get(i), this.contents.as_ref().and_then(|c| c.get(i)))
                    }
                })
                .collect(),
        )
    }

    /// Just the paths of row `row`.
    pub fn paths(&self, row: usize) -> Option<Vec<Option<&'a str>>> {
        let this = self.0.as_ref()?;
        if this.list_nulls.is_some_and(|n| n.is_null(row)) {
            return None;
        }
        let (start, end) = (this.offsets[row], this.offsets[row + 1]);
        Some(
            (start..end)
                .map(|i| if this.entries.is_null(i) { None } else { this.paths.get(i) })
                .collect(),
        )
    }
}

/// The column named `name` of `batch`, or a `MissingColumn` error naming `path`.
pub fn column<'a>(batch: &'a RecordBatch, path: &Path, name: &str) -> Result<&'a ArrayRef, CoreError> {
    batch.column_by_name(name).ok_or_else(|| CoreError::MissingColumn {
        path: path.to_owned(),
        column: name.to_owned(),
        found: batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A typed accessor for `name`, or a `WrongColumnType` error.
pub fn typed<'a, T>(
    batch: &'a RecordBatch,
    path: &Path,
    name: &str,
    kind: ColumnKind,
    wrap: impl FnOnce(&'a ArrayRef) -> Option<T>,
) -> Result<T, CoreError> {
    let array = column(batch, path, name)?;
    wrap(array).ok_or_else(|| CoreError::WrongColumnType {
        path: path.to_owned(),
        column: name.to_owned(),
        expected: kind.expected().to_owned(),
        found: array.data_type().to_string(),
    })
}

/// The column `name` as the concrete arrow array `T` (an `Int64Array`, a
/// `BooleanArray`, ...), or a `WrongColumnType` error saying `expected` (the type's
/// name as users read it: `int64`, `double`, `bool`).
pub fn array<'a, T: 'static>(batch: &'a RecordBatch, path: &Path, name: &str, expected: &str) -> Result<&'a T, CoreError> {
    let array = column(batch, path, name)?;
    array.as_any().downcast_ref::<T>().ok_or_else(|| CoreError::WrongColumnType {
        path: path.to_owned(),
        column: name.to_owned(),
        expected: expected.to_owned(),
        found: array.data_type().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_with_offsets_and_without() {
        let a = parse_instant("2026-03-01T10:00:00+02:00").expect("rfc3339");
        let b = parse_instant("2026-03-01T08:00:00").expect("naive");
        assert_eq!(a, b);
        assert!(parse_instant("yesterday").is_none());
    }

    #[test]
    fn check_columns_names_file_and_column() {
        let schema = Schema::new(vec![Field::new("event_id", DataType::Int64, true)]);
        let err = check_columns(Path::new("in.parquet"), &schema, &[("event_id", ColumnKind::Text)]).expect_err("wrong type");
        let msg = err.to_string();
        assert!(
            msg.contains("`in.parquet`") && msg.contains("`event_id`") && msg.contains("Int64"),
            "{msg}"
        );
        let err = check_columns(Path::new("in.parquet"), &schema, &[("files", ColumnKind::Files)]).expect_err("missing");
        assert!(err.to_string().contains("no column `files`"), "{err}");
    }
}
