//! The normalised matching key of `reference/README.md`.
//!
//! Place names, sector labels and column headers are compared on this key, built in
//! the documented order: NFKC and case folding; accents removed; Arabic diacritics,
//! tatweel and hamza-carrying alefs folded; apostrophes, hyphens, underscores and white
//! space folded to one space; and, for place names only, one administrative prefix and
//! the Arabic article dropped.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Prefixes dropped from place names (after the general key is built), longest first.
const PLACE_PREFIXES: &[&str] = &[
    "region de",
    "region",
    "province de",
    "province",
    "prefecture de",
    "prefecture",
    "جهة",
    "اقليم",
    "عمالة",
];

/// The normalised key of a label or a column header (steps 1 to 4).
pub fn normalize_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_normalized_key(text, &mut out);
    out
}

/// Appends [`normalize_key`]`(text)` to `out` (no allocation for Latin-script text
/// when `out` has room).
pub fn push_normalized_key(text: &str, out: &mut String) {
    let start = out.len();
    if !push_latin_key(text, out) {
        out.truncate(start);
        out.push_str(&unicode_key(text));
    }
}

/// The base letter of the accented Latin letters French registries use, lower-cased.
fn latin_base(c: char) -> Option<char> {
    Some(match c {
        'à' | 'á' | 'â' | 'ä' | 'À' | 'Á' | 'Â' | 'Ä' => 'a',
        'ç' | 'Ç' => 'c',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'î' | 'ï' | 'í' | 'Î' | 'Ï' | 'Í' => 'i',
        'ô' | 'ö' | 'ó' | 'Ô' | 'Ö' | 'Ó' => 'o',
        'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' | 'Ú' => 'u',
        'ÿ' => 'y',
        'ñ' | 'Ñ' => 'n',
        _ => return None,
    })
}

/// Appends the key of text made only of ASCII and the accented letters of
/// [`latin_base`]: for these, steps 1–3 reduce to lower-casing and taking the base
/// letter, so the result is that of [`unicode_key`] without its normalisation passes.
/// `false` (with `out` partly written) for other text.
fn push_latin_key(text: &str, out: &mut String) -> bool {
    let start = out.len();
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_ascii_whitespace() || matches!(c, ' ' | '\'' | '-' | '_' | '\x0b') {
            pending_space = out.len() > start;
            continue;
        }
        let folded = if c.is_ascii() {
            c.to_ascii_lowercase()
        } else if c == 'œ' || c == 'Œ' {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push_str("oe");
            continue;
        } else {
            match latin_base(c) {
                Some(base) => base,
                None => return false,
            }
        };
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(folded);
    }
    true
}

fn unicode_key(text: &str) -> String {
    // Step 1: NFKC, then case folding.
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
    // Step 2: accents removed (NFD, combining marks dropped); œ → oe.
    let mut out = String::with_capacity(folded.len());
    let mut pending_space = false;
    for c in folded.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        // Step 3: Arabic harakat, tanwin, shadda, sukun, superscript alef, tatweel.
        if matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}') {
            continue;
        }
        // Step 4: apostrophes, hyphens, underscores and white space fold to one space.
        if c.is_whitespace()
            || matches!(
                c,
                '\'' | '\u{2019}' | '\u{02BC}' | '-' | '\u{2010}' | '\u{2013}' | '\u{2014}' | '_'
            )
        {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match c {
            'œ' => out.push_str("oe"),
            // Step 3: alef with hamza above or below, alef with madda → bare alef (NFD has
            // already split most of them; these cover precomposed leftovers).
            'أ' | 'إ' | 'آ' => out.push('ا'),
            _ => out.push(c),
        }
    }
    // Recompose what NFD split and nothing dropped (Hangul, for one), so the key is
    // stable under a second pass.
    out.nfc().collect()
}

/// The normalised key of a place name: [`normalize_key`] then step 5 (one leading
/// administrative prefix dropped, then the Arabic article `ال` at the start of every
/// Arabic word).
pub fn place_key(text: &str) -> String {
    let key = normalize_key(text);
    let mut rest = key.as_str();
    for prefix in PLACE_PREFIXES {
        if let Some(after) = rest.strip_prefix(prefix)
            && let Some(tail) = after.strip_prefix(' ')
            && !tail.is_empty()
        {
            rest = tail;
            break;
        }
    }
    rest.split(' ')
        .map(|word| match word.strip_prefix("ال") {
            Some(tail) if !tail.is_empty() && is_arabic(word) => tail,
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_arabic(word: &str) -> bool {
    word.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("Fès-Meknès", "fes meknes")]
    #[case("  FES  MEKNES ", "fes meknes")]
    #[case("L'Oriental", "l oriental")]
    #[case("L’Oriental", "l oriental")]
    #[case("Main d'œuvre", "main d oeuvre")]
    #[case("Date de création", "date de creation")]
    #[case("Tanger—Tétouan_Al Hoceïma", "tanger tetouan al hoceima")]
    #[case("N° immatriculation", "n° immatriculation")]
    #[case("ﬁne", "fine")] // NFKC ligature
    #[case("مُحَمَّد", "محمد")] // harakat and shadda
    #[case("أكادير", "اكادير")]
    #[case("إفران", "افران")]
    #[case("آسفي", "اسفي")]
    #[case("ـالعيونـ", "العيون")] // tatweel
    #[case("", "")]
    #[case(" - ", "")]
    fn keys(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(normalize_key(input), expected);
    }

    #[rstest]
    #[case("Région de l'Oriental", "l oriental")]
    #[case("Région Souss-Massa", "souss massa")]
    #[case("Province de Berkane", "berkane")]
    #[case("Préfecture de Inezgane-Aït Melloul", "inezgane ait melloul")]
    #[case("Prefecture Fès", "fes")]
    #[case("Region", "region")] // a prefix alone is a name
    #[case("Regional", "regional")]
    #[case("جهة فاس مكناس", "فاس مكناس")]
    #[case("إقليم إفران", "افران")]
    #[case("عمالة الدار البيضاء", "دار بيضاء")]
    #[case("الحسيمة", "حسيمة")]
    #[case("جهة الداخلة وادي الذهب", "داخلة وادي ذهب")]
    fn place_keys(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(place_key(input), expected);
    }

    proptest! {
        #[test]
        fn the_latin_fast_path_agrees_with_the_general_one(
            s in "[ -~\t\n\x0b\x0c\ràáâäÀÁÂÄçÇéèêëÉÈÊËîïíÎÏÍôöóÔÖÓùûüúÙÛÜÚÿñÑœŒ]*"
        ) {
            let mut out = String::from("prefix |");
            prop_assert!(push_latin_key(&s, &mut out));
            prop_assert_eq!(out, format!("prefix |{}", unicode_key(&s)));
        }

        #[test]
        fn appending_a_key_leaves_what_came_before(
            before in "[a-z |]{0,6}",
            s in "[ a-zé\u{0627}-\u{064A}\u{064B}\u{0640}-]{0,8}",
        ) {
            let mut out = before.clone();
            push_normalized_key(&s, &mut out);
            prop_assert_eq!(out, format!("{before}{}", normalize_key(&s)));
        }

        #[test]
        fn never_panics_and_is_idempotent(s in "\\PC*") {
            let k = normalize_key(&s);
            prop_assert_eq!(normalize_key(&k), k.clone());
            prop_assert!(!k.starts_with(' ') && !k.ends_with(' '));
            let _ = place_key(&s);
        }
    }
}
