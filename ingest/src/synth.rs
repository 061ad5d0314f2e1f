//! Synthetic registries at any size, in the formats of SOURCES.md, with realistic
//! distributions (regions, sectors, sizes, gender splits, founding years) and the
//! messiness real exports have — deterministically from a seed.
//!
//! The generator keeps its own ground truth ([`SynthTruth`]): how many organisations,
//! rejected and superseded rows each family should give and the members they should
//! sum to, so an ingest of its output can be checked exactly.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use ess_schemas::reference::{Province, reference};
use ess_schemas::{Family, reference::Region};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde::Serialize;

use crate::error::{IngestError, Result};
use crate::input_fields::ASSOCIATION_HEADER_ROW;
use crate::progress::Progress;

/// Excel's sheet holds 1,048,576 rows; workbooks are split well below that.
pub const MAX_ROWS_PER_WORKBOOK: usize = 1_000_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Output folder (created).
    pub out: PathBuf,
    /// Cooperative rows.
    pub cooperatives: usize,
    /// Association rows.
    pub associations: usize,
    /// Mutual rows.
    pub mutuals: usize,
    /// Seed: the same seed gives the same files, byte for byte.
    pub seed: u64,
    /// Association rows per workbook (at most [`MAX_ROWS_PER_WORKBOOK`]).
    pub rows_per_workbook: usize,
}

/// Ground truth for one family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FamilyTruth {
    /// Rows written (blank lines excluded).
    pub rows: u64,
    /// Rows that must be rejected (no identifier or no name).
    pub rejected: u64,
    /// Rows repeating an earlier identifier (the earlier one is superseded).
    pub superseded: u64,
    /// Organisations an ingest must publish.
    pub organisations: u64,
    /// Sum of valid `members_total` over those organisations.
    pub members: i64,
}

/// What was generated.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SynthTruth {
    /// The seed.
    pub seed: u64,
    /// Files, in the order to ingest them, with their family.
    pub files: Vec<(String, PathBuf)>,
    /// Per family.
    pub families: BTreeMap<String, FamilyTruth>,
}

impl SynthTruth {
    /// The files as ingest sources, in order.
    pub fn sources(&self) -> Vec<crate::SourceFile> {
        self.files
            .iter()
            .map(|(family, path)| {
                let family = Family::parse(family).expect("synth writes known families");
                crate::SourceFile::path(family, path)
            })
            .collect()
    }

    /// The `ess ingest` command that reads these files in order.
    pub fn ingest_command(&self, store: &str) -> String {
        let mut cmd = format!("ess ingest --store {store}");
        for (family, path) in &self.files {
            let flag = match family.as_str() {
                "cooperative" => "--cooperatives",
                "association" => "--associations",
                _ => "--mutuals",
            };
            cmd.push_str(&format!(" {flag} {}", path.display()));
        }
        cmd
    }
}

/// SplitMix64: small, fast, and the same on every machine.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_thousand: u64) -> bool {
        self.below(1000) < per_thousand
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn weighted<'a, T>(&mut self, items: &'a [(T, u64)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.below(total);
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }
    /// A size with a long tail: most small, a few large.
    fn size(&mut self, min: u64, median: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let scale = (median - min).max(1) as f64 / std::f64::consts::LN_2;
        min + (-(1.0 - u).ln() * scale) as u64
    }
}

/// Cooperatives per inhabitant in each region, relative to the country's: the
/// registry's known skew (rural and southern regions hold more cooperatives per
/// inhabitant, Casablanca-Settat and Rabat-Salé-Kénitra fewer). A region's weight is
/// its 2024 census population times this.
const REGION_SKEW: [(&str, f64); 12] = [
    ("MA-01", 0.9),
    ("MA-02", 1.5),
    ("MA-03", 1.0),
    ("MA-04", 0.7),
    ("MA-05", 1.1),
    ("MA-06", 0.5),
    ("MA-07", 1.3),
    ("MA-08", 2.0),
    ("MA-09", 2.0),
    ("MA-10", 2.0),
    ("MA-11", 1.5),
    ("MA-12", 1.5),
];

/// Cooperatives of women only, per thousand, by region: Souss-Massa (argan) and
/// Marrakech-Safi hold most of them. With [`REGION_SKEW`] about 12% of all
/// cooperatives, some 7,900 of the registry's 65,315 (November 2025).
const ALL_WOMEN_PER_THOUSAND: [(&str, u64); 12] = [
    ("MA-01", 50),
    ("MA-02", 60),
    ("MA-03", 60),
    ("MA-04", 50),
    ("MA-05", 60),
    ("MA-06", 40),
    ("MA-07", 200),
    ("MA-08", 90),
    ("MA-09", 330),
    ("MA-10", 60),
    ("MA-11", 60),
    ("MA-12", 60),
];

/// Cooperatives per thousand whose export gives no split of employees by sex.
const NO_GENDER_SPLIT_PER_THOUSAND: u64 = 300;

/// Region weights: census population × [`REGION_SKEW`].
fn region_weights() -> Vec<(&'static str, u64)> {
    let census = ess_schemas::census::census();
    REGION_SKEW
        .iter()
        .map(|(code, skew)| {
            let population = census.region(code).map_or(0, |f| f.population);
            (*code, (population as f64 * skew / 1_000.0) as u64)
        })
        .collect()
}

const NAMES: [&str; 16] = [
    "Al Amal",
    "Tifaouine",
    "Al Baraka",
    "Nour",
    "Tamount",
    "Azaghar",
    "Ennakhil",
    "Zitoune",
    "Al Khair",
    "Tiwizi",
    "Assafaa",
    "Al Massira",
    "Tissir",
    "Imilchil",
    "Al Fath",
    "Ait Baha",
];

struct Place<'a> {
    region: &'a Region,
    province: &'a Province,
}

fn place<'a>(
    rng: &mut Rng,
    weights: &[(&'static str, u64)],
    provinces: &'a BTreeMap<&'a str, Vec<&'a Province>>,
) -> Place<'a> {
    let r = reference();
    let code = rng.weighted(weights);
    let region = r.region(code).expect("reference region");
    let province = *rng.pick(&provinces[code]);
    Place { region, province }
}

/// A region text as registries write it: name in some spelling, or nothing.
fn region_text(rng: &mut Rng, p: &Place<'_>) -> String {
    match rng.below(20) {
        0 => String::new(),
        1 => p.region.name_ar.clone(),
        2 => p.region.name_fr.to_uppercase(),
        3 => format!("Région {}", p.region.name_fr),
        4 => strip_accents(&p.region.name_fr),
        5 => {
            // A legacy (1997) region that contains this one.
            let legacy: Vec<_> = reference()
                .legacy_regions()
                .iter()
                .filter(|l| l.current_region_codes.contains(&p.region.code))
                .collect();
            if legacy.is_empty() {
                p.region.name_fr.clone()
            } else {
                rng.pick(&legacy).name.clone()
            }
        }
        _ => p.region.name_fr.clone(),
    }
}

fn province_text(rng: &mut Rng, p: &Place<'_>) -> String {
    match rng.below(25) {
        0 | 1 => String::new(),
        2 => p.province.name_ar.clone(),
        3 => p.province.name_fr.to_lowercase(),
        4 => format!("Province de {}", p.province.name_fr),
        5 => "Douar Ait Ali".to_owned(), // a village, not a province
        _ => p.province.name_fr.clone(),
    }
}

fn strip_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'â' | 'à' => 'a',
            'ï' | 'î' => 'i',
            'ô' => 'o',
            other => other,
        })
        .collect()
}

/// A number as exports write it, and the value an ingest must read from it.
fn number_text(rng: &mut Rng, value: u64) -> (String, Option<i64>) {
    match rng.below(40) {
        0 => ("N/D".into(), None),
        1 => ("?".into(), None),
        2 => (String::new(), None),
        3 => ("-1".into(), None), // invalid_number
        4 if value >= 1000 => (
            format!("{}\u{a0}{:03}", value / 1000, value % 1000),
            Some(value as i64),
        ),
        _ => (value.to_string(), Some(value as i64)),
    }
}

fn founded_year(rng: &mut Rng) -> i32 {
    // Far more recent foundings than old ones.
    let r = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    2025 - (r * r * 65.0) as i32
}

fn sector_labels(family: Family) -> Vec<(String, u64)> {
    let weight = |code: &str| match code {
        "AGRI" => 60,
        "CRAFT" | "SOCIAL" | "LOCALDEV" => 14,
        "ARGAN" | "EDU" => 8,
        "HEALTH" => 10,
        _ => 2,
    };
    let mut labels: Vec<(String, u64)> = ess_schemas::reference::files::SECTOR_ALIASES
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            let (fam, label, code) = (f.next()?, f.next()?, f.next()?);
            (fam == family.as_str()).then(|| (label.to_owned(), weight(code)))
        })
        .collect();
    labels.push(("Secteur inconnu".to_owned(), 1));
    labels
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        file: path.display().to_string(),
        source,
    }
}

/// Writes the registries; returns what an ingest of them must give.
pub fn synth(options: &SynthOptions, progress: &Progress) -> Result<SynthTruth> {
    std::fs::create_dir_all(&options.out).map_err(io_err(&options.out))?;
    let mut provinces: BTreeMap<&str, Vec<&Province>> = BTreeMap::new();
    for p in reference().provinces() {
        provinces.entry(p.region_code.as_str()).or_default().push(p);
    }
    let total = (options.cooperatives + options.associations + options.mutuals) as u64;
    progress.rows_total.store(total, Ordering::Relaxed);
    let mut truth = SynthTruth {
        seed: options.seed,
        ..SynthTruth::default()
    };
    if options.cooperatives > 0 {
        let path = options.out.join("cooperatives.csv");
        progress.set_phase(path.display().to_string());
        let t = cooperatives(&path, options, &provinces, progress)?;
        truth.files.push(("cooperative".into(), path));
        truth.families.insert("cooperative".into(), t);
    }
    if options.associations > 0 {
        let per = options.rows_per_workbook.clamp(1, MAX_ROWS_PER_WORKBOOK);
        let mut rng = Rng(options.seed ^ 0xA550);
        let mut t = FamilyTruth::default();
        let mut start = 0;
        let mut part = 0;
        while start < options.associations {
            let n = per.min(options.associations - start);
            let path = options.out.join(format!("associations_{part:03}.xlsx"));
            progress.set_phase(path.display().to_string());
            associations(&path, start, n, &mut rng, &provinces, &mut t, progress)?;
            truth.files.push(("association".into(), path));
            start += n;
            part += 1;
        }
        t.organisations = t.rows - t.rejected - t.superseded;
        truth.families.insert("association".into(), t);
    }
    if options.mutuals > 0 {
        let path = options.out.join("mutuals.ndjson");
        progress.set_phase(path.display().to_string());
        let t = mutuals(&path, options, &provinces, progress)?;
        truth.files.push(("mutual".into(), path));
        truth.families.insert("mutual".into(), t);
    }
    let json = serde_json::to_vec_pretty(&truth).expect("truth serialises");
    let truth_path = options.out.join("synth_truth.json");
    std::fs::write(&truth_path, json).map_err(io_err(&truth_path))?;
    Ok(truth)
}

fn cooperatives(
    path: &Path,
    options: &SynthOptions,
    provinces: &BTreeMap<&str, Vec<&Province>>,
    progress: &Progress,
) -> Result<FamilyTruth> {
    let weights = region_weights();
    let mut rng = Rng(options.seed ^ 0xC00F);
    let labels = sector_labels(Family::Cooperative);
    let file = File::create(path).map_err(io_err(path))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut t = FamilyTruth::default();
    let err = io_err(path);
    w.write_all("N° immatriculation;Raison sociale;Date de création;Région;Province;Secteur;Branche;Nombre d'adhérents;Dont femmes;Emplois permanents;Emplois femmes;Emplois hommes;Statut\n".as_bytes())
        .map_err(&err)?;
    let mut previous: Vec<String> = Vec::new();
    let mut line = String::with_capacity(256);
    for i in 0..options.cooperatives {
        line.clear();
        t.rows += 1;
        // ~0.5% re-register an earlier id (an update): the earlier row is superseded.
        if !previous.is_empty() && rng.chance(5) {
            let again = rng.pick(&previous).clone();
            line.push_str(&again);
            t.superseded += 1;
            w.write_all(line.as_bytes()).map_err(&err)?;
            continue;
        }
        let p = place(&mut rng, &weights, provinces);
        let label = rng.weighted(&labels).clone();
        // About 12 members a cooperative, a third of them women (the registry's
        // national picture): some cooperatives of women only, the others a quarter
        // women on average.
        let members = rng.size(7, 12);
        let all_women = rng.chance(
            ALL_WOMEN_PER_THOUSAND
                .iter()
                .find(|(c, _)| *c == p.region.code)
                .map_or(0, |(_, n)| *n),
        ) || (label == "Argane" && rng.chance(500));
        let women = if all_women {
            members
        } else {
            rng.below(members * 49 / 100 + 1)
        };
        let employees = rng.size(0, 2);
        let emp_women = rng.below(employees + 1);
        let year = founded_year(&mut rng);
        let date = match rng.below(30) {
            0 => format!("{year}"),
            1 => "vers 1990".to_owned(),
            2..=14 => format!("{year}-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
            _ => format!("{:02}/{:02}/{year}", 1 + rng.below(28), 1 + rng.below(12)),
        };
        let status = *rng.pick(&[
            "Active",
            "Active",
            "Active",
            "En activité",
            "Dissoute",
            "Radiée",
            "En liquidation",
            "",
        ]);
        let mut name = format!("Coopérative {} {i}", rng.pick(&NAMES));
        if rng.chance(2) {
            name = format!("\"{name}; dite \"\"Les femmes\"\"\nsection 2\"");
        }
        let rejected = rng.chance(1);
        let id = if rejected && rng.chance(500) {
            String::new()
        } else {
            format!("COOP-{:09}", i)
        };
        if rejected && !id.is_empty() {
            name.clear();
        }
        let (members_text, members_value) = number_text(&mut rng, members);
        let (women_text, _) = number_text(&mut rng, women);
        let (emp_text, _) = number_text(&mut rng, employees);
        let region = region_text(&mut rng, &p);
        let province = province_text(&mut rng, &p);
        let (emp_women, emp_men) = if rng.chance(NO_GENDER_SPLIT_PER_THOUSAND) {
            (String::new(), String::new())
        } else {
            (emp_women.to_string(), (employees - emp_women).to_string())
        };
        line.push_str(&format!(
            "{id};{name};{date};{region};{province};{label};;{members_text};{women_text};{emp_text};{emp_women};{emp_men};{status}\n"
        ));
        if rejected {
            t.rejected += 1;
        } else {
            t.members += members_value.unwrap_or(0);
            if previous.len() < 4096 {
                previous.push(line.clone());
            } else {
                let slot = rng.below(4096) as usize;
                previous[slot] = line.clone();
            }
        }
        if rng.chance(1) {
            line.push_str(";;;;;;;;;;;;\n"); // a row of delimiters: not a row
        }
        w.write_all(line.as_bytes()).map_err(&err)?;
        if i % 65_536 == 0 {
            progress.rows.store(i as u64, Ordering::Relaxed);
        }
    }
    w.flush().map_err(&err)?;
    progress
        .rows
        .store(options.cooperatives as u64, Ordering::Relaxed);
    t.organisations = t.rows - t.rejected - t.superseded;
    Ok(t)
}

#[allow(clippy::too_many_arguments)]
fn associations(
    path: &Path,
    start: usize,
    n: usize,
    rng: &mut Rng,
    provinces: &BTreeMap<&str, Vec<&Province>>,
    t: &mut FamilyTruth,
    progress: &Progress,
) -> Result<()> {
    let weights = region_weights();
    let xlsx = |e: rust_xlsxwriter::XlsxError| IngestError::Encode {
        what: path.display().to_string(),
        source: Box::new(e),
    };
    let labels = sector_labels(Family::Association);
    let mut wb = Workbook::new();
    // A fixed creation time keeps the same seed's workbooks identical, byte for byte.
    let created = ExcelDateTime::from_ymd(2025, 1, 1).map_err(xlsx)?;
    wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let date_format = Format::new().set_num_format("dd/mm/yyyy");
    let ws = wb.add_worksheet_with_constant_memory().map_err(xlsx)?;
    ws.set_name("Associations déclarées").map_err(xlsx)?;
    ws.write_string(0, 0, "Registre des associations — extraction synthétique")
        .map_err(xlsx)?;
    let headers = ASSOCIATION_HEADER_ROW;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(2, c as u16, *h).map_err(xlsx)?;
    }
    for k in 0..n {
        let i = start + k;
        let row = 3 + k as u32;
        t.rows += 1;
        let p = place(rng, &weights, provinces);
        let rejected = rng.chance(1);
        if !(rejected && rng.chance(500)) {
            ws.write_string(row, 0, format!("A{i:09}")).map_err(xlsx)?;
        }
        if !rejected {
            if !rng.chance(20) {
                ws.write_string(row, 1, format!("Association {} {i}", rng.pick(&NAMES)))
                    .map_err(xlsx)?;
            }
            ws.write_string(row, 2, format!("جمعية {i}"))
                .map_err(xlsx)?;
        }
        let first = rng.weighted(&labels).clone();
        let activities = if rng.chance(300) {
            format!("{first} / {}", rng.weighted(&labels))
        } else {
            first
        };
        ws.write_string(row, 3, activities).map_err(xlsx)?;
        ws.write_string(row, 4, region_text(rng, &p))
            .map_err(xlsx)?;
        ws.write_string(row, 5, province_text(rng, &p))
            .map_err(xlsx)?;
        let year = founded_year(rng);
        let (m, d) = (1 + rng.below(12) as u8, 1 + rng.below(28) as u8);
        if rng.chance(100) {
            ws.write_string(row, 6, format!("{d:02}/{m:02}/{year}"))
                .map_err(xlsx)?;
        } else {
            let date = ExcelDateTime::from_ymd(year as u16, m, d).map_err(xlsx)?;
            ws.write_datetime_with_format(row, 6, &date, &date_format)
                .map_err(xlsx)?;
        }
        let members = rng.size(5, 30);
        let valid_members = if rng.chance(30) {
            ws.write_string(row, 7, "N/D").map_err(xlsx)?;
            None
        } else {
            ws.write_number(row, 7, members as f64).map_err(xlsx)?;
            Some(members as i64)
        };
        let employees = rng.size(0, 1);
        let women = rng.below(employees + 1);
        ws.write_number(row, 8, women as f64).map_err(xlsx)?;
        ws.write_number(row, 9, (employees - women) as f64)
            .map_err(xlsx)?;
        ws.write_number(row, 10, rng.size(0, 8) as f64)
            .map_err(xlsx)?;
        ws.write_string(row, 11, if rng.chance(100) { "Oui" } else { "Non" })
            .map_err(xlsx)?;
        if rejected {
            t.rejected += 1;
        } else {
            t.members += valid_members.unwrap_or(0);
        }
        if k % 65_536 == 0 {
            progress
                .rows
                .fetch_add(65_536.min(n - k) as u64, Ordering::Relaxed);
        }
    }
    wb.save(path).map_err(xlsx)?;
    Ok(())
}

fn mutuals(
    path: &Path,
    options: &SynthOptions,
    provinces: &BTreeMap<&str, Vec<&Province>>,
    progress: &Progress,
) -> Result<FamilyTruth> {
    let weights = region_weights();
    let mut rng = Rng(options.seed ^ 0x3070);
    let labels = sector_labels(Family::Mutual);
    let file = File::create(path).map_err(io_err(path))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let err = io_err(path);
    let mut t = FamilyTruth::default();
    for i in 0..options.mutuals {
        t.rows += 1;
        if rng.chance(2) {
            w.write_all(b"{\"id\": \"MUT-BROKEN\", \"denomination\": \n")
                .map_err(&err)?;
            t.rejected += 1;
            continue;
        }
        let p = place(&mut rng, &weights, provinces);
        let members = rng.size(200, 5000);
        let total = rng.size(2, 40);
        let women = rng.below(total + 1);
        let value = serde_json::json!({
            "id": if i % 3 == 0 { serde_json::json!(100_000 + i) } else { serde_json::json!(format!("MUT-{i:07}")) },
            "denomination": format!("Mutuelle {} {i}", rng.pick(&NAMES)),
            "categorie": rng.weighted(&labels),
            "siege": {"ville": "", "region": region_text(&mut rng, &p), "province": province_text(&mut rng, &p)},
            "date_agrement": format!("{}-{:02}-{:02}", founded_year(&mut rng), 1 + rng.below(12), 1 + rng.below(28)),
            "adherents": members,
            "statut": if rng.chance(900) { "agréée" } else { "retrait d'agrément" },
            "effectif": {"total": total, "femmes": women, "hommes": total - women},
        });
        t.members += members as i64;
        serde_json::to_writer(&mut w, &value).map_err(|e| err(e.into()))?;
        w.write_all(b"\n").map_err(&err)?;
        if i % 65_536 == 0 {
            progress
                .rows
                .fetch_add(65_536.min(options.mutuals - i) as u64, Ordering::Relaxed);
        }
    }
    w.flush().map_err(&err)?;
    t.organisations = t.rows - t.rejected - t.superseded;
    Ok(t)
}
