-- DuckDB doing the work `ess ingest` does on a cooperative CSV, as far as SQL goes:
-- the same output columns, the same rules (SOURCES.md), the same three files
-- (organisations, rollup, quarantine). bench/bench.py fills in @CSV@, @REF@ (the
-- reference folder) and @OUT@ (a folder), and times it against `ess ingest`.
--
-- Where SQL approximates: the matching key is strip_accents/lower/regexp (ess: NFKC,
-- case folding, Arabic folding); source_row is the record's position + 1, not its
-- line (ess counts the lines of quoted line breaks and blank lines). bench.py checks
-- that both find the same organisations, sums, and counts by region, province,
-- sector, year, status and quality flags.
--
-- The lines between `-- same work only: begin` and `-- same work only: end` (the
-- quarantine, last-wins duplicates, the rollup) are left out for the benchmark's
-- third DuckDB run, "the same columns": `read_csv` → Parquet with ess's 22 columns by
-- the same rules, row by row, and nothing else.

SET preserve_insertion_order = true;

-- The normalised key of ../shared/reference/README.md, steps 1-4, and step 5 for places.
CREATE MACRO nkey(s) AS trim(regexp_replace(regexp_replace(
    replace(strip_accents(lower(nfc_normalize(coalesce(s, '')))), 'œ', 'oe'),
    '[\x{064B}-\x{065F}\x{0670}\x{0640}]', '', 'g'),
    '[''’ʼ‐–—_\s-]+', ' ', 'g'));
CREATE MACRO pkey(s) AS regexp_replace(regexp_replace(nkey(s),
    '^(region de|region|province de|province|prefecture de|prefecture|جهة|اقليم|عمالة) (.+)$', '\2'),
    '(^| )ال', '\1', 'g');
-- Integers: thousands separators removed; unknown markers and empty are null.
CREATE MACRO ival(s) AS try_cast(replace(replace(replace(s, ' ', ''), chr(160), ''), chr(8239), '') AS UBIGINT)::BIGINT;
CREATE MACRO iunknown(s) AS lower(trim(coalesce(s, ''))) IN ('', '-', 'n/d', 'na', '?');
CREATE MACRO iflag(s) AS ival(s) IS NULL AND NOT iunknown(s);

CREATE TABLE region_keys AS
    SELECT DISTINCT pkey(n) AS k, code FROM (
        SELECT code, unnest([name_fr, name_ar, name_en]) AS n FROM read_csv('@REF@/regions.csv', all_varchar = true)
        UNION ALL
        SELECT code, alias FROM read_csv('@REF@/place_aliases.csv', all_varchar = true) WHERE kind = 'region');
CREATE TABLE province_keys AS
    SELECT DISTINCT pkey(n) AS k, p.code, p.region_code FROM (
        SELECT code, unnest([name_fr, name_ar]) AS n FROM read_csv('@REF@/provinces.csv', all_varchar = true)
        UNION ALL
        SELECT code, alias FROM read_csv('@REF@/place_aliases.csv', all_varchar = true) WHERE kind = 'province') a
    JOIN read_csv('@REF@/provinces.csv', all_varchar = true) p USING (code);
CREATE TABLE legacy_keys AS
    SELECT pkey(legacy_name) AS k, current_region_codes AS codes,
           CASE WHEN NOT contains(current_region_codes, ';') AND NOT contains(current_region_codes, '|')
                THEN current_region_codes END AS only_code
    FROM read_csv('@REF@/legacy_regions.csv', all_varchar = true);
CREATE TABLE sector_keys AS
    SELECT DISTINCT nkey(label) AS k, sector_code FROM read_csv('@REF@/sector_aliases.csv', all_varchar = true)
    WHERE family = 'cooperative';

CREATE VIEW rows AS
    SELECT row_number() OVER () + 1 AS source_row, *
    FROM read_csv('@CSV@', delim = ';', quote = '"', escape = '"', header = true, all_varchar = true);

-- Blank records (only delimiters: every field empty) are not rows.
CREATE VIEW read_rows AS
    SELECT * FROM rows
    WHERE coalesce("N° immatriculation", "Raison sociale", "Date de création", "Région", "Province", "Secteur",
                   "Branche", "Nombre d'adhérents", "Dont femmes", "Emplois permanents", "Emplois femmes",
                   "Emplois hommes", "Statut") IS NOT NULL;

-- Places, sectors and statuses resolved once per distinct spelling (as ess memoises them).
CREATE TABLE texts AS
    SELECT DISTINCT coalesce("Région", '') AS region_text, coalesce("Province", '') AS province_text,
           coalesce("Secteur", '') AS sector_text, coalesce("Statut", '') AS status_text
    FROM read_csv('@CSV@', delim = ';', quote = '"', escape = '"', header = true, all_varchar = true);
CREATE TABLE place_map AS
    SELECT t.*, p.code AS p_code, p.region_code AS p_region, r.code AS r_code, l.only_code AS l_code, l.codes AS l_codes,
           nkey(region_text) <> '' OR nkey(province_text) <> '' AS place_given
    FROM (SELECT DISTINCT region_text, province_text FROM texts) t
    LEFT JOIN province_keys p ON p.k = pkey(t.province_text)
    LEFT JOIN region_keys r ON r.k = pkey(t.region_text)
    LEFT JOIN legacy_keys l ON l.k = pkey(t.region_text);
CREATE TABLE sector_map AS
    SELECT t.sector_text, coalesce(s.sector_code, 'OTHER') AS sector_code,
           s.sector_code IS NULL AND nkey(t.sector_text) <> '' AS unknown_sector,
           CASE WHEN trim(t.sector_text) = '' THEN []::VARCHAR[] ELSE [trim(t.sector_text)] END AS activities
    FROM (SELECT DISTINCT sector_text FROM texts) t LEFT JOIN sector_keys s ON s.k = nkey(t.sector_text);
CREATE TABLE status_map AS
    SELECT status_text, CASE nkey(status_text) WHEN 'active' THEN 'active' WHEN 'en activite' THEN 'active'
                WHEN 'en liquidation' THEN 'in_liquidation' WHEN 'dissoute' THEN 'dissolved'
                WHEN 'radiee' THEN 'dissolved' ELSE 'unknown' END AS status
    FROM (SELECT DISTINCT status_text FROM texts);

-- same work only: begin
COPY (
    SELECT 'cooperative' AS family, '@CSV@' AS source_file, source_row,
           CASE WHEN coalesce(trim("N° immatriculation"), '') = '' THEN 'missing_source_id' ELSE 'missing_name' END AS reason,
           '' AS detail, to_json(r) AS raw
    FROM read_rows r
    WHERE coalesce(trim("N° immatriculation"), '') = '' OR coalesce(trim("Raison sociale"), '') = ''
) TO '@OUT@/quarantine.parquet' (FORMAT parquet, COMPRESSION zstd);
-- same work only: end

COPY (
    WITH accepted AS (
        SELECT trim("N° immatriculation") AS source_id, "Raison sociale" AS name,
               "Date de création" AS date_text, "Région" AS region_text, "Province" AS province_text,
               "Secteur" AS sector_text, "Nombre d'adhérents" AS members_text, "Dont femmes" AS women_text,
               "Emplois permanents" AS emp_text, "Emplois femmes" AS emp_women_text,
               "Emplois hommes" AS emp_men_text, "Statut" AS status_text, source_row
        FROM read_rows
        WHERE coalesce(trim("N° immatriculation"), '') <> '' AND coalesce(trim("Raison sociale"), '') <> ''
        -- same work only: begin
        -- Duplicates: the last row read wins.
        QUALIFY row_number() OVER (PARTITION BY trim("N° immatriculation") ORDER BY source_row DESC) = 1
        -- same work only: end
    ), resolved AS (
        SELECT a.*,
               coalesce(try_strptime(trim(date_text), '%d/%m/%Y'), try_strptime(trim(date_text), '%Y-%m-%d'))::DATE AS founded_on,
               CASE WHEN regexp_full_match(trim(date_text), '\d{4}') THEN trim(date_text)::INTEGER END AS bare_year,
               s.sector_code, s.unknown_sector, s.activities, st.status,
               p.p_code, p.p_region, p.r_code, p.l_code, p.l_codes, p.place_given,
               ival(members_text) AS members_total, ival(women_text) AS members_women,
               ival(emp_women_text) AS employees_women, ival(emp_men_text) AS employees_men, ival(emp_text) AS emp_given,
               iflag(members_text) OR iflag(women_text) OR iflag(emp_text) OR iflag(emp_women_text) OR iflag(emp_men_text) AS invalid_number
        FROM accepted a
        JOIN sector_map s ON s.sector_text = coalesce(a.sector_text, '')
        JOIN status_map st ON st.status_text = coalesce(a.status_text, '')
        JOIN place_map p ON p.region_text = coalesce(a.region_text, '') AND p.province_text = coalesce(a.province_text, '')
    )
    SELECT 'cooperative:' || source_id AS org_id, 'cooperative' AS family, source_id, name,
           NULL::VARCHAR AS name_ar, sector_code,
           activities,
           coalesce(p_region, r_code, l_code) AS region_code, p_code AS province_code,
           founded_on, coalesce(year(founded_on), bare_year)::INTEGER AS founded_year,
           status, members_total, members_women,
           coalesce(emp_given, CASE WHEN employees_women IS NOT NULL AND employees_men IS NOT NULL
                                    THEN employees_women + employees_men END) AS employees_total,
           employees_women, employees_men, NULL::BIGINT AS volunteers, NULL::BOOLEAN AS public_utility,
           list_filter([
               CASE WHEN invalid_number THEN 'invalid_number' END,
               CASE WHEN founded_on IS NULL AND bare_year IS NULL AND trim(coalesce(date_text, '')) <> '' THEN 'invalid_date' END,
               CASE WHEN unknown_sector THEN 'unknown_sector' END,
               CASE WHEN emp_given IS NOT NULL AND employees_women IS NOT NULL AND employees_men IS NOT NULL
                         AND employees_women + employees_men <> emp_given THEN 'employment_mismatch' END,
               CASE WHEN p_code IS NOT NULL AND (r_code <> p_region OR (r_code IS NULL AND l_codes IS NOT NULL
                         AND NOT list_contains(string_split(l_codes, ';'), p_region))) THEN 'region_conflict' END,
               CASE WHEN p_code IS NULL AND r_code IS NULL AND l_code IS NOT NULL THEN 'legacy_region' END,
               CASE WHEN p_code IS NULL AND r_code IS NULL AND l_code IS NULL AND place_given THEN 'unresolved_place' END
           ], f -> f IS NOT NULL) AS quality_flags,
           '@CSV@' AS source_file, source_row
    FROM resolved
) TO '@OUT@/organisations.parquet' (FORMAT parquet, COMPRESSION zstd);

-- same work only: begin
COPY (
    SELECT family, region_code, province_code, sector_code, founded_year, status,
           count(*) AS organisations, coalesce(sum(members_total), 0) AS members,
           coalesce(sum(members_women), 0) AS members_women, coalesce(sum(employees_total), 0) AS employees,
           coalesce(sum(employees_women), 0) AS employees_women, coalesce(sum(employees_men), 0) AS employees_men,
           count(*) FILTER (employees_women IS NOT NULL AND employees_men IS NOT NULL) AS gender_known,
           coalesce(sum(employees_women) FILTER (employees_men IS NOT NULL), 0) AS gender_known_women,
           coalesce(sum(employees_men) FILTER (employees_women IS NOT NULL), 0) AS gender_known_men
    FROM read_parquet('@OUT@/organisations.parquet')
    GROUP BY ALL ORDER BY ALL NULLS FIRST
) TO '@OUT@/rollup.parquet' (FORMAT parquet, COMPRESSION zstd);
-- same work only: end
