//! Distinct texts numbered from 1 (0 stands for none): how the rollup and the search
//! index hold dimension values without a string per row.

use std::collections::HashMap;

/// Distinct texts, numbered from 1 in order of first sight.
///
/// Texts of up to 15 bytes (every code of the reference data) are looked up as one
/// 128-bit number: a hash of two words and no string comparison, once per row in the
/// rollup.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<String, u32, foldhash::fast::FixedState>,
    short: HashMap<u128, u32, foldhash::fast::FixedState>,
    values: Vec<String>,
}

/// A text of at most 15 bytes as one number: its bytes, and its length in the top byte
/// (so that texts differing only by trailing NULs differ).
fn short_key(value: &str) -> Option<u128> {
    let bytes = value.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut word = [0u8; 16];
    word[..bytes.len()].copy_from_slice(bytes);
    word[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(word))
}

impl Interner {
    /// The number of `value` (added if new); 0 for `None`.
    pub fn id(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return 0 };
        let short = short_key(value);
        if let Some(key) = short {
            if let Some(id) = self.short.get(&key) {
                return *id;
            }
        } else if let Some(id) = self.ids.get(value) {
            return *id;
        }
        self.values.push(value.to_owned());
        let id = self.values.len() as u32;
        match short {
            Some(key) => self.short.insert(key, id),
            None => self.ids.insert(value.to_owned(), id),
        };
        id
    }

    /// The number of `value` if it was seen.
    pub fn get(&self, value: &str) -> Option<u32> {
        match short_key(value) {
            Some(key) => self.short.get(&key).copied(),
            None => self.ids.get(value).copied(),
        }
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

    #[test]
    fn short_and_long_texts_each_keep_one_number() {
        let mut i = Interner::default();
        let texts = [
            "",
            "a",
            "a\0",
            "\0",
            "in_liquidation",
            "exactly 15 byte",
            "exactly 16 bytes",
            "a much longer text than sixteen bytes",
            "é",
        ];
        let ids: Vec<u32> = texts.iter().map(|t| i.id(Some(t))).collect();
        assert_eq!(ids, (1..=texts.len() as u32).collect::<Vec<_>>());
        for (t, id) in texts.iter().zip(&ids) {
            assert_eq!(i.id(Some(t)), *id, "{t:?}");
            assert_eq!(i.get(t), Some(*id), "{t:?}");
            assert_eq!(i.value(*id), Some(*t));
        }
        assert_eq!(i.get("exactly 16 byte"), None);
        assert_eq!(i.len(), texts.len());
    }
}
