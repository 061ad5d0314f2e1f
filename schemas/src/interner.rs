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

    /// Each number's rank when the texts are sorted (byte order), indexed by number:
    /// `ranks()[0]` is 0 (none sorts first), the smallest text ranks 1.
    pub fn ranks(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (1..=self.values.len() as u32).collect();
        ids.sort_unstable_by(|a, b| {
            self.values[*a as usize - 1].cmp(&self.values[*b as usize - 1])
        });
        let mut ranks = vec![0; self.values.len() + 1];
        for (rank, id) in ids.into_iter().enumerate() {
            ranks[id as usize] = rank as u32 + 1;
        }
        ranks
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
        assert_eq!(i.ranks(), vec![0, 2, 1]);
    }
}
