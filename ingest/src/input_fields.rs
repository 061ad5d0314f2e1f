//! The input fields a registry row can carry, and the header spellings that name them.

use ess_schemas::Family;
use ess_schemas::match_key::normalize_key;
use ess_schemas::value_rules::{Raw, RawRef};

/// An input field of a registry row, before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Registry identifier.
    SourceId,
    /// Name (Latin script).
    Name,
    /// Arabic name.
    NameAr,
    /// Founding or approval date.
    Founded,
    /// Region text.
    Region,
    /// Province text.
    Province,
    /// Sector label(s).
    Sector,
    /// Members.
    Members,
    /// Women members.
    MembersWomen,
    /// Employees total as given.
    EmployeesTotal,
    /// Women employees.
    EmployeesWomen,
    /// Men employees.
    EmployeesMen,
    /// Volunteers.
    Volunteers,
    /// Public utility.
    PublicUtility,
    /// Status.
    Status,
    /// A known column that is read and ignored (`Branche`).
    Ignored,
}

impl Field {
    /// Number of fields that carry a value.
    pub const COUNT: usize = 15;

    /// The canonical name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Field::SourceId => "source_id",
            Field::Name => "name",
            Field::NameAr => "name_ar",
            Field::Founded => "founded_on",
            Field::Region => "region",
            Field::Province => "province",
            Field::Sector => "sector",
            Field::Members => "members_total",
            Field::MembersWomen => "members_women",
            Field::EmployeesTotal => "employees_total",
            Field::EmployeesWomen => "employees_women",
            Field::EmployeesMen => "employees_men",
            Field::Volunteers => "volunteers",
            Field::PublicUtility => "public_utility",
            Field::Status => "status",
            Field::Ignored => "ignored",
        }
    }

    fn index(self) -> Option<usize> {
        (self != Field::Ignored).then_some(self as usize)
    }
}

/// Header spellings of the cooperative CSV (compared on the normalised key).
const COOPERATIVE_HEADERS: &[(&str, Field)] = &[
    ("N° immatriculation", Field::SourceId),
    ("Nº immatriculation", Field::SourceId),
    ("No immatriculation", Field::SourceId),
    ("N immatriculation", Field::SourceId),
    ("Numero immatriculation", Field::SourceId),
    ("Numéro d'immatriculation", Field::SourceId),
    ("Immatriculation", Field::SourceId),
    ("Raison sociale", Field::Name),
    ("Date de création", Field::Founded),
    ("Région", Field::Region),
    ("Province", Field::Province),
    ("Province/Préfecture", Field::Province),
    ("Secteur", Field::Sector),
    ("Branche", Field::Ignored),
    ("Nombre d'adhérents", Field::Members),
    ("Adhérents", Field::Members),
    ("Dont femmes", Field::MembersWomen),
    ("Emplois permanents", Field::EmployeesTotal),
    ("Emplois femmes", Field::EmployeesWomen),
    ("Emplois hommes", Field::EmployeesMen),
    ("Statut", Field::Status),
];

/// The association registry's header row as SOURCES.md §2 writes it (what the
/// generator writes and tests build workbooks with).
pub const ASSOCIATION_HEADER_ROW: [&str; 12] = [
    "Identifiant",
    "Nom",
    "الاسم",
    "Domaine d'intervention",
    "Région",
    "Province/Préfecture",
    "Date de constitution",
    "Adhérents",
    "Salariés femmes",
    "Salariés hommes",
    "Bénévoles",
    "Utilité publique",
];

/// Header spellings of the association XLSX.
const ASSOCIATION_HEADERS: &[(&str, Field)] = &[
    ("Identifiant", Field::SourceId),
    ("Nom", Field::Name),
    ("الاسم", Field::NameAr),
    ("Domaine d'intervention", Field::Sector),
    ("Région", Field::Region),
    ("Province/Préfecture", Field::Province),
    ("Province", Field::Province),
    ("Date de constitution", Field::Founded),
    ("Adhérents", Field::Members),
    ("Salariés femmes", Field::EmployeesWomen),
    ("Salariés hommes", Field::EmployeesMen),
    ("Bénévoles", Field::Volunteers),
    ("Utilité publique", Field::PublicUtility),
];

/// The header table of a family (mutuals have fixed JSON field names instead).
fn headers(family: Family) -> &'static [(&'static str, Field)] {
    match family {
        Family::Cooperative => COOPERATIVE_HEADERS,
        Family::Association => ASSOCIATION_HEADERS,
        Family::Mutual => &[],
    }
}

/// How a file's columns map onto fields.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// For each column, the field it holds (`None`: unknown or a repeated header).
    pub columns: Vec<Option<Field>>,
    /// The headers as written.
    pub headers: Vec<String>,
    /// Headers no spelling matched, as written.
    pub unknown: Vec<String>,
    /// Per field (by [`Field`] index), the column that holds it: `columns` inverted.
    pub by_field: [Option<u32>; Field::COUNT],
}

impl ColumnMap {
    /// Maps a header row. The first column naming a field wins; later ones are
    /// reported with the unknown columns.
    pub fn new(family: Family, headers: Vec<String>) -> Self {
        let table = headers_by_key(family);
        let mut seen = Vec::new();
        let mut unknown = Vec::new();
        let columns = headers
            .iter()
            .map(|h| {
                let key = normalize_key(h);
                match table.iter().find(|(k, _)| *k == key).map(|(_, f)| *f) {
                    Some(f) if f == Field::Ignored => Some(f),
                    Some(f) if !seen.contains(&f) => {
                        seen.push(f);
                        Some(f)
                    }
                    _ => {
                        if !key.is_empty() {
                            unknown.push(h.trim().to_owned());
                        }
                        None
                    }
                }
            })
            .collect::<Vec<_>>();
        let mut by_field = [None; Field::COUNT];
        for (column, field) in columns.iter().enumerate() {
            if let Some(i) = field.and_then(Field::index) {
                by_field[i] = u32::try_from(column).ok();
            }
        }
        ColumnMap {
            columns,
            headers,
            unknown,
            by_field,
        }
    }

    /// Whether some column holds `field`.
    pub fn has(&self, field: Field) -> bool {
        self.columns.contains(&Some(field))
    }

    /// The spellings that would name `field` in `family`'s registry.
    pub fn spellings(family: Family, field: Field) -> String {
        headers(family)
            .iter()
            .filter(|(_, f)| *f == field)
            .map(|(h, _)| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

fn headers_by_key(family: Family) -> Vec<(String, Field)> {
    headers(family)
        .iter()
        .map(|(h, f)| (normalize_key(h), *f))
        .collect()
}

/// One registry row's values, by field, as the reader found them.
///
/// Text values keep their allocations between rows ([`RawRecord::set_text`] writes
/// into them), so a reader filling the same record row after row allocates nothing.
#[derive(Debug, Clone)]
pub struct RawRecord {
    values: Vec<Raw>,
    present: [bool; Field::COUNT],
}

impl Default for RawRecord {
    fn default() -> Self {
        RawRecord {
            values: vec![Raw::Empty; Field::COUNT],
            present: [false; Field::COUNT],
        }
    }
}

impl RawRecord {
    /// Empties every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.present = [false; Field::COUNT];
    }

    /// Sets a field (ignored fields are dropped).
    pub fn set(&mut self, field: Field, value: Raw) {
        if let Some(i) = field.index() {
            self.values[i] = value;
            self.present[i] = true;
        }
    }

    /// Sets a field to text, reusing the field's previous text allocation.
    pub fn set_text(&mut self, field: Field, text: &str) {
        if let Some(i) = field.index() {
            match &mut self.values[i] {
                Raw::Text(s) => {
                    s.clear();
                    s.push_str(text);
                }
                other => *other = Raw::Text(text.to_owned()),
            }
            self.present[i] = true;
        }
    }

    /// A field's value.
    pub fn get(&self, field: Field) -> &Raw {
        match field.index() {
            Some(i) if self.present[i] => &self.values[i],
            _ => &Raw::Empty,
        }
    }
}

/// A CSV record's fields where the parser left them: the text of its chunk, the
/// record's field spans in it, and the column of each field. Read in place, a field is
/// not copied into a [`RawRecord`] first.
#[derive(Debug, Clone, Copy)]
pub struct TextRow<'a> {
    /// The chunk's text.
    pub text: &'a str,
    /// The record's fields: their start and end in `text`, each on a character
    /// boundary (checked by whoever builds the row).
    pub spans: &'a [(u32, u32)],
    /// Per field (by [`Field`] index), the column that holds it.
    pub columns: &'a [Option<u32>; Field::COUNT],
}

impl<'a> TextRow<'a> {
    fn get(self, field: Field) -> RawRef<'a> {
        let span = field
            .index()
            .and_then(|i| self.columns[i])
            .and_then(|column| self.spans.get(column as usize));
        match span {
            Some(&(start, end)) => RawRef::Text(&self.text[start as usize..end as usize]),
            None => RawRef::Empty,
        }
    }
}

/// A row's values, by field, as a reader hands them over: a [`RawRecord`] it filled,
/// or a CSV record read in place.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    /// Values the reader converted (XLSX cells, JSON values, undecodable CSV text).
    Raw(&'a RawRecord),
    /// A CSV record's text in its chunk.
    Text(TextRow<'a>),
}

impl<'a> Record<'a> {
    /// A field's value.
    #[inline]
    pub fn get(self, field: Field) -> RawRef<'a> {
        match self {
            Record::Raw(r) => r.get(field).as_ref(),
            Record::Text(t) => t.get(field),
        }
    }
}

impl<'a> From<&'a RawRecord> for Record<'a> {
    fn from(record: &'a RawRecord) -> Self {
        Record::Raw(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_in_any_spelling_and_order() {
        let m = ColumnMap::new(
            Family::Cooperative,
            [
                "raison sociale",
                "NUMERO IMMATRICULATION",
                "Date de creation",
                "Province ",
                "Observations",
                "branche",
                "Nombre d'adherents",
                "N° immatriculation",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert_eq!(
            m.columns,
            vec![
                Some(Field::Name),
                Some(Field::SourceId),
                Some(Field::Founded),
                Some(Field::Province),
                None,
                Some(Field::Ignored),
                Some(Field::Members),
                None,
            ]
        );
        assert_eq!(m.unknown, vec!["Observations", "N° immatriculation"]);
    }

    #[test]
    fn association_headers() {
        let m = ColumnMap::new(
            Family::Association,
            [
                "Identifiant",
                "Nom",
                "الاسم",
                "Province/Préfecture",
                "UTILITE PUBLIQUE",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert!(m.has(Field::SourceId) && m.has(Field::NameAr) && m.has(Field::PublicUtility));
        assert!(m.unknown.is_empty());
    }

    #[test]
    fn field_indexes_are_dense() {
        assert_eq!(Field::Status as usize + 1, Field::COUNT);
    }
}
