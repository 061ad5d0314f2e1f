//! The mutual registry: a JSON array of objects, or one object per line (JSON Lines).
//! The form is sniffed from the first non-blank byte. Arrays are streamed element by
//! element (a serde visitor over the sequence); JSON Lines are read line by line.

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use ess_schemas::value_rules::Raw;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{ReadSummary, RowSink};
use crate::error::{IngestError, Result};
use crate::input_fields::{Field, RawRecord, Record};
use crate::normalize::Rejection;

/// Reads a mutual registry file.
pub fn read_json(input: impl Read, file: &str, sink: &mut dyn RowSink) -> Result<ReadSummary> {
    let io_err = |source| IngestError::Io {
        file: file.to_owned(),
        source,
    };
    let mut input = BufReader::with_capacity(256 * 1024, input);
    // Skip a BOM and leading white space to see the form.
    let first = loop {
        let buf = input.fill_buf().map_err(io_err)?;
        if buf.is_empty() {
            break None;
        }
        let skip = buf
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(buf.len());
        if skip < buf.len() {
            break Some(buf[skip]);
        }
        let n = buf.len();
        input.consume(n);
    };
    let summary = ReadSummary {
        encoding: Some("UTF-8".into()),
        ..ReadSummary::default()
    };
    match first {
        Some(b'[') => read_array(input, file, sink)?,
        Some(_) => read_lines(input, file, sink)?,
        None => {}
    }
    Ok(summary)
}

fn read_lines(mut input: impl BufRead, file: &str, sink: &mut dyn RowSink) -> Result<()> {
    let mut line = Vec::new();
    let mut number = 0i64;
    let mut record = RawRecord::default();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|source| IngestError::Io {
                file: file.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        number += 1;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_start_matches('\u{FEFF}').trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) => element(value, number, &mut record, sink),
            Err(e) => sink.reject(
                number,
                Rejection::new("invalid_json", format!("not valid JSON: {e}")),
                Value::String(text.to_owned()).to_string(),
            ),
        }
    }
    Ok(())
}

/// One array element or line: an object becomes a row; anything else is rejected.
fn element(value: Value, row: i64, record: &mut RawRecord, sink: &mut dyn RowSink) {
    let Value::Object(object) = value else {
        sink.reject(
            row,
            Rejection::new(
                "not_an_object",
                format!("expected an object, found {}", kind(&value)),
            ),
            value.to_string(),
        );
        return;
    };
    mutual_record(&object, record);
    if let Some(rejection) = sink.row(row, Record::Raw(record)) {
        sink.reject(row, rejection, Value::Object(object).to_string());
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn raw(value: Option<&Value>) -> Raw {
    match value {
        None | Some(Value::Null) => Raw::Empty,
        Some(Value::Bool(b)) => Raw::Bool(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Raw::Int(i),
            None => Raw::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(Value::String(s)) => Raw::Text(s.clone()),
        Some(other) => Raw::Other(other.to_string()),
    }
}

fn mutual_record(object: &Map<String, Value>, record: &mut RawRecord) {
    record.clear();
    record.set(Field::SourceId, raw(object.get("id")));
    record.set(Field::Name, raw(object.get("denomination")));
    record.set(Field::Sector, raw(object.get("categorie")));
    record.set(Field::Founded, raw(object.get("date_agrement")));
    record.set(Field::Members, raw(object.get("adherents")));
    record.set(Field::Status, raw(object.get("statut")));
    // A `siege` or `effectif` that is not an object counts as missing.
    if let Some(Value::Object(siege)) = object.get("siege") {
        record.set(Field::Region, raw(siege.get("region")));
        record.set(Field::Province, raw(siege.get("province")));
    }
    if let Some(Value::Object(effectif)) = object.get("effectif") {
        record.set(Field::EmployeesTotal, raw(effectif.get("total")));
        record.set(Field::EmployeesWomen, raw(effectif.get("femmes")));
        record.set(Field::EmployeesMen, raw(effectif.get("hommes")));
    }
}

fn read_array(input: impl Read, file: &str, sink: &mut dyn RowSink) -> Result<()> {
    let mut de = serde_json::Deserializer::from_reader(input);
    let mut walker = ArrayWalker {
        sink,
        record: RawRecord::default(),
        position: 0,
    };
    let outcome = (&mut de).deserialize_seq(&mut walker);
    let position = walker.position;
    match outcome.and_then(|()| de.end()) {
        Ok(()) => Ok(()),
        Err(e) if e.is_io() => Err(IngestError::Io {
            file: file.to_owned(),
            source: e.into(),
        }),
        Err(e) => {
            // The array breaks here; nothing after this point can be read. The break
            // is recorded as one rejected element so that counts still reconcile.
            tracing::warn!(file, element = position + 1, error = %e, "JSON array is malformed; the rest of the file is unreadable");
            walker.sink.reject(
                position as i64 + 1,
                Rejection::new(
                    "invalid_json",
                    format!("the array is malformed from here on ({e}); the rest of the file could not be read"),
                ),
                Value::Null.to_string(),
            );
            Ok(())
        }
    }
}

struct ArrayWalker<'s> {
    sink: &'s mut dyn RowSink,
    record: RawRecord,
    position: u64,
}

impl<'de> Visitor<'de> for &mut ArrayWalker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of mutual objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            self.position += 1;
            element(value, self.position as i64, &mut self.record, self.sink);
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut ArrayWalker<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::testing::Collect;
    use ess_schemas::Family;

    fn read(text: &str) -> Collect {
        let mut sink = Collect::new(Family::Mutual);
        read_json(text.as_bytes(), "m", &mut sink).unwrap();
        sink
    }

    #[test]
    fn array_of_objects() {
        let sink = read(
            r#" [ {"id": 101, "denomination": "A", "categorie": "Mutuelle de santé",
                   "siege": {"region": null, "province": "Chtouka-Aït Baha"},
                   "date_agrement": "1969-02-30", "adherents": 1930.0,
                   "statut": "agréée", "effectif": {"total": 32, "femmes": 22, "hommes": 9}},
                 {"id": "MUT-2", "denomination": "B", "siege": "Rabat", "effectif": 3,
                  "adherents": "17 983"},
                 null, 7, {"id": 1.5, "denomination": "C"}, {"denomination": "D"}] "#,
        );
        assert_eq!(sink.accepted.len(), 2);
        let a = &sink.accepted[0];
        assert_eq!(a.source_id, "101");
        assert_eq!(a.province_code.as_deref(), Some("MA-CHT"));
        assert_eq!(a.founded_year, None);
        assert!(
            a.quality_flags
                .contains(ess_schemas::QualityFlag::InvalidDate)
        );
        assert!(
            a.quality_flags
                .contains(ess_schemas::QualityFlag::EmploymentMismatch)
        );
        assert_eq!(a.members_total, Some(1930));
        let b = &sink.accepted[1];
        assert_eq!(b.region_code, None);
        assert_eq!(b.employees_total, None);
        assert_eq!(b.members_total, Some(17983));
        assert_eq!(b.source_row, 2);
        let reasons: Vec<_> = sink
            .rejected
            .iter()
            .map(|(r, j, _)| (*r, j.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (3, "not_an_object"),
                (4, "not_an_object"),
                (5, "invalid_id"),
                (6, "missing_source_id")
            ]
        );
    }

    #[test]
    fn json_lines_with_broken_and_blank_lines() {
        let sink = read(
            "{\"id\": \"M1\", \"denomination\": \"A\"}\n\n{\"id\": \"M2\", \"denomination\": \n null\r\n{\"id\": 3, \"denomination\": \"C\"}",
        );
        assert_eq!(
            sink.accepted
                .iter()
                .map(|o| o.source_row)
                .collect::<Vec<_>>(),
            vec![1, 5]
        );
        let reasons: Vec<_> = sink
            .rejected
            .iter()
            .map(|(r, j, _)| (*r, j.reason))
            .collect();
        assert_eq!(reasons, vec![(3, "invalid_json"), (4, "not_an_object")]);
    }

    #[test]
    fn a_truncated_array_keeps_what_came_before() {
        let sink = read(r#"[{"id": 1, "denomination": "A"}, {"id": 2, "denom"#);
        assert_eq!(sink.accepted.len(), 1);
        assert_eq!(sink.rejected.len(), 1);
        assert_eq!(sink.rejected[0].0, 2);
        assert_eq!(sink.rejected[0].1.reason, "invalid_json");
    }

    #[test]
    fn empty_input_has_no_rows() {
        let sink = read("  \n ");
        assert!(sink.accepted.is_empty() && sink.rejected.is_empty());
    }
}
