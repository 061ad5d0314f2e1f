//! Distinct texts numbered from 1 (0 stands for none): how the rollup and the search
//! index hold dimension values without a string per row.

use std::collections::HashMap;

/// Distinct texts, numbered from 1 in order of first sight.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<String, u32, foldhash::fast::FixedState>,
    values: Vec<String>,
}

impl Interner {
    /// The number of `value` (added if new); 0 for `None`.
    pub fn id(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return 0 };
        if let Some(id) = self.ids.get(value) {
            return *id;
        }
        self.values.push(value.to_owned());
        let id = self.values.len() as u32;
        self.ids.insert(value.to_owned(), id);
        id
    }

    /// The number of `value` if it was seen.
    pub fn get(&self, value: &str) -> Option<u32> {
        self.ids.get(value).copied()
    }

    /// The text numbered `id`; `None` for 0.
    pub fn value(&self, id: u32) -> Option<&str> {
        (id > 0).then(|| self.values[id as usize - 1].as_str())
    }

    /// Distinct texts seen.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none was seen.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_one_with_zero_for_none() {
        let mut i = Interner::default();
        assert_eq!(i.id(None), 0);
        assert_eq!(i.id(Some("MA-09")), 1);
        assert_eq!(i.id(Some("MA-01")), 2);
        assert_eq!(i.id(Some("MA-09")), 1);
        assert_eq!((i.get("MA-01"), i.get("MA-05")), (Some(2), None));
        assert_eq!((i.value(0), i.value(2)), (None, Some("MA-01")));
        assert_eq!(i.len(), 2);
    }
}
