//! The aggregate measures of SOURCES.md, "Aggregate measures".
//!
//! The query engine computes the integer sums below for each group; the two ratios are
//! derived from them here, so every consumer rounds the same way.

use serde::Serialize;

/// Integer sums over a group of organisations. Every sum counts null as 0 and is 0,
/// never null, over a group with no known value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sums {
    /// Number of organisations.
    pub organisations: i64,
    /// Sum of `members_total`.
    pub members: i64,
    /// Sum of `members_women`.
    pub members_women: i64,
    /// Sum of `employees_total`.
    pub employees: i64,
    /// Sum of `employees_women`.
    pub employees_women: i64,
    /// Sum of `employees_men`.
    pub employees_men: i64,
    /// Organisations whose `employees_women` and `employees_men` are both known.
    pub gender_known: i64,
    /// Sum of `employees_women` over those organisations.
    pub gender_known_women: i64,
    /// Sum of `employees_men` over those organisations.
    pub gender_known_men: i64,
}

impl Sums {
    /// The sums in the order of [`col::ALL`] (the measure columns).
    pub fn to_array(&self) -> [i64; 9] {
        [
            self.organisations,
            self.members,
            self.members_women,
            self.employees,
            self.employees_women,
            self.employees_men,
            self.gender_known,
            self.gender_known_women,
            self.gender_known_men,
        ]
    }

    /// Sums from values in the order of [`col::ALL`].
    pub fn from_array(values: [i64; 9]) -> Sums {
        let [
            organisations,
            members,
            members_women,
            employees,
            employees_women,
            employees_men,
            gender_known,
            gender_known_women,
            gender_known_men,
        ] = values;
        Sums {
            organisations,
            members,
            members_women,
            employees,
            employees_women,
            employees_men,
            gender_known,
            gender_known_women,
            gender_known_men,
        }
    }

    /// `genderCoverage`: the share of organisations whose women and men employees are
    /// both known; null for an empty group.
    pub fn gender_coverage(&self) -> Option<f64> {
        (self.organisations > 0).then(|| self.gender_known as f64 / self.organisations as f64)
    }

    /// `womenEmploymentShare`: over organisations with both known,
    /// sum(women) / (sum(women) + sum(men)); null when that is 0.
    pub fn women_employment_share(&self) -> Option<f64> {
        let denominator = self.gender_known_women + self.gender_known_men;
        (denominator > 0).then(|| self.gender_known_women as f64 / denominator as f64)
    }
}

/// Names of the measure columns the query engine returns, in [`Sums`] field order.
pub mod col {
    /// Number of organisations.
    pub const ORGANISATIONS: &str = "organisations";
    /// Sum of members.
    pub const MEMBERS: &str = "members";
    /// Sum of women members.
    pub const MEMBERS_WOMEN: &str = "members_women";
    /// Sum of employees.
    pub const EMPLOYEES: &str = "employees";
    /// Sum of women employees.
    pub const EMPLOYEES_WOMEN: &str = "employees_women";
    /// Sum of men employees.
    pub const EMPLOYEES_MEN: &str = "employees_men";
    /// Organisations with both gender counts known.
    pub const GENDER_KNOWN: &str = "gender_known";
    /// Women employees where both are known.
    pub const GENDER_KNOWN_WOMEN: &str = "gender_known_women";
    /// Men employees where both are known.
    pub const GENDER_KNOWN_MEN: &str = "gender_known_men";
    /// All of them, in [`super::Sums`] field order.
    pub const ALL: [&str; 9] = [
        ORGANISATIONS,
        MEMBERS,
        MEMBERS_WOMEN,
        EMPLOYEES,
        EMPLOYEES_WOMEN,
        EMPLOYEES_MEN,
        GENDER_KNOWN,
        GENDER_KNOWN_WOMEN,
        GENDER_KNOWN_MEN,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_sources_md() {
        let s = Sums {
            organisations: 600,
            gender_known: 399,
            gender_known_women: 387,
            gender_known_men: 708,
            ..Sums::default()
        };
        assert_eq!(s.gender_coverage(), Some(399.0 / 600.0));
        assert_eq!(s.women_employment_share(), Some(387.0 / 1095.0));
        assert_eq!(Sums::default().gender_coverage(), None);
        let ordered = Sums::from_array(std::array::from_fn(|i| i as i64));
        assert_eq!(
            (
                ordered.organisations,
                ordered.employees,
                ordered.gender_known_men
            ),
            (0, 3, 8)
        );
        assert_eq!(ordered.to_array(), std::array::from_fn(|i| i as i64));
        let zero = Sums {
            organisations: 3,
            gender_known: 3,
            ..Sums::default()
        };
        assert_eq!(zero.gender_coverage(), Some(1.0));
        assert_eq!(zero.women_employment_share(), None);
    }
}
