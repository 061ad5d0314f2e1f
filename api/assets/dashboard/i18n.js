// Strings and number formats of the dashboard, in French, Arabic and English.
// No imports: every other module may import this one.

export const LANGS = ["fr", "ar", "en"];

const LOCALES = { fr: "fr-MA", ar: "ar-MA", en: "en" };

const S = {
  pageTitle: {
    fr: "Économie sociale et solidaire au Maroc — tableau de bord",
    ar: "الاقتصاد الاجتماعي والتضامني بالمغرب — لوحة القيادة",
    en: "Social and solidarity economy in Morocco — dashboard",
  },
  title: {
    fr: "Économie sociale et solidaire au Maroc",
    ar: "الاقتصاد الاجتماعي والتضامني بالمغرب",
    en: "Social and solidarity economy in Morocco",
  },
  subtitle: {
    fr: "Coopératives, associations et mutuelles : les chiffres des registres publics, chacun avec sa source et ses données en CSV.",
    ar: "التعاونيات والجمعيات والتعاضديات: أرقام السجلات العمومية، كل رقم بمصدره وبياناته بصيغة CSV.",
    en: "Cooperatives, associations and mutuals: figures from the public registries, each with its source and its data as CSV.",
  },
  colon: { fr: "\u00a0: ", ar: ": ", en: ": " },
  language: { fr: "Langue", ar: "اللغة", en: "Language" },
  skip: { fr: "Aller aux chiffres", ar: "الانتقال إلى الأرقام", en: "Skip to the figures" },
  filters: { fr: "Filtres", ar: "التصفية", en: "Filters" },
  filtersHelp: {
    fr: "Les chiffres, les graphiques et les liens CSV suivent ces choix ; l'adresse de la page les garde, pour la partager.",
    ar: "تتبع الأرقام والرسوم وروابط CSV هذه الاختيارات؛ ويحفظها عنوان الصفحة لمشاركتها.",
    en: "The figures, charts and CSV links follow these choices; the page's address keeps them, to share the view.",
  },
  snapshot: { fr: "Instantané des données", ar: "نسخة البيانات", en: "Data snapshot" },
  latest: { fr: "le plus récent", ar: "الأحدث", en: "latest" },
  family: { fr: "Famille", ar: "الفئة", en: "Family" },
  region: { fr: "Région", ar: "الجهة", en: "Region" },
  province: { fr: "Province ou préfecture", ar: "الإقليم أو العمالة", en: "Province or prefecture" },
  sector: { fr: "Secteur", ar: "القطاع", en: "Sector" },
  status: { fr: "Statut", ar: "الوضعية", en: "Status" },
  founded: { fr: "Année de création", ar: "سنة التأسيس", en: "Founding year" },
  foundedFrom: { fr: "De", ar: "من", en: "From" },
  foundedTo: { fr: "À", ar: "إلى", en: "To" },
  yearsInvalid: {
    fr: "L'année de début doit précéder l'année de fin.",
    ar: "يجب أن تسبق سنة البداية سنة النهاية.",
    en: "The first year must not be after the last one.",
  },
  allF: { fr: "Toutes", ar: "الكل", en: "All" },
  allM: { fr: "Tous", ar: "الكل", en: "All" },
  reset: { fr: "Effacer les filtres", ar: "مسح التصفية", en: "Clear filters" },
  display: { fr: "Affichage des graphiques", ar: "عرض الرسوم البيانية", en: "Chart display" },
  measure: { fr: "Mesure", ar: "المقياس", en: "Measure" },
  scale: { fr: "Échelle", ar: "السلم", en: "Scale" },
  scaleCount: { fr: "Nombres", ar: "الأعداد", en: "Counts" },
  scalePopulation: {
    fr: "Rapportés à la population (recensement 2024)",
    ar: "نسبة إلى السكان (إحصاء 2024)",
    en: "Per inhabitant (2024 census)",
  },
  // families
  cooperative: { fr: "Coopératives", ar: "التعاونيات", en: "Cooperatives" },
  association: { fr: "Associations", ar: "الجمعيات", en: "Associations" },
  mutual: { fr: "Mutuelles", ar: "التعاضديات", en: "Mutuals" },
  // statuses
  st_active: { fr: "En activité", ar: "نشطة", en: "Active" },
  st_in_liquidation: { fr: "En liquidation", ar: "في طور التصفية", en: "In liquidation" },
  st_dissolved: { fr: "Dissoute", ar: "منحلة", en: "Dissolved" },
  st_unknown: { fr: "Inconnu", ar: "غير معروف", en: "Unknown" },
  unknown: { fr: "Inconnu", ar: "غير معروف", en: "Unknown" },
  unknownLower: { fr: "inconnu", ar: "غير معروف", en: "unknown" },
  // measures
  organisations: { fr: "Organisations", ar: "الهيئات", en: "Organisations" },
  members: { fr: "Membres", ar: "الأعضاء", en: "Members" },
  membersWomen: { fr: "Membres femmes", ar: "العضوات", en: "Women members" },
  employees: { fr: "Salariés", ar: "الأجراء", en: "Employees" },
  employeesWomen: { fr: "Salariées femmes", ar: "الأجيرات", en: "Women employees" },
  employeesMen: { fr: "Salariés hommes", ar: "الأجراء الذكور", en: "Men employees" },
  genderCoverage: { fr: "Couverture femmes/hommes", ar: "نسبة التغطية حسب الجنس", en: "Gender coverage" },
  womenEmploymentShare: {
    fr: "Part des femmes parmi les salariés",
    ar: "حصة النساء من الأجراء",
    en: "Women's share of employees",
  },
  population: { fr: "Population (RGPH 2024)", ar: "السكان (إحصاء 2024)", en: "Population (2024 census)" },
  organisationsPer100kInhabitants: {
    fr: "Organisations pour {n} habitants",
    ar: "الهيئات لكل {n} نسمة",
    en: "Organisations per {n} inhabitants",
  },
  membersPer1000Inhabitants: {
    fr: "Membres pour {n} habitants",
    ar: "الأعضاء لكل {n} نسمة",
    en: "Members per {n} inhabitants",
  },
  membersWomenPer1000Women: {
    fr: "Membres femmes pour {n} femmes",
    ar: "العضوات لكل {n} امرأة",
    en: "Women members per {n} women",
  },
  employeesShareOfEmployed: {
    fr: "Salariés, en part des actifs occupés",
    ar: "الأجراء، كنسبة من السكان النشيطين المشتغلين",
    en: "Employees, as a share of the employed",
  },
  // headline
  headline: { fr: "Chiffres clés", ar: "الأرقام الرئيسية", en: "Key figures" },
  employeesSplit: {
    fr: "dont {w} femmes et {m} hommes",
    ar: "منهم {w} نساء و{m} رجال",
    en: "of whom {w} women and {m} men",
  },
  employeesUnsplit: {
    fr: "{n} sans répartition femmes/hommes connue",
    ar: "{n} دون توزيع معروف حسب الجنس",
    en: "{n} with no known women/men split",
  },
  membersWomenNote: {
    fr: "seules les coopératives déclarent leurs membres femmes : {n} organisations ici",
    ar: "التعاونيات وحدها تصرح بعدد العضوات: {n} هيئة هنا",
    en: "only cooperatives report women members: {n} organisations here",
  },
  membersWomenNone: {
    fr: "seules les coopératives déclarent leurs membres femmes, et ce choix n'en compte aucune",
    ar: "التعاونيات وحدها تصرح بعدد العضوات، ولا تضم هذه التصفية أي تعاونية",
    en: "only cooperatives report women members, and this choice has none",
  },
  coverageNote: {
    fr: "des organisations déclarent à la fois leurs salariées et leurs salariés",
    ar: "من الهيئات تصرح بعدد الأجيرات والأجراء الذكور معا",
    en: "of organisations report both their women and their men employees",
  },
  shareNote: {
    fr: "sur les {p} d'organisations qui déclarent les deux",
    ar: "من بين {p} من الهيئات التي تصرح بالاثنين",
    en: "over the {p} of organisations that report both",
  },
  shareNoneNote: {
    fr: "aucune organisation de ce choix ne déclare à la fois salariées et salariés",
    ar: "لا تصرح أي هيئة في هذه التصفية بالأجيرات والأجراء معا",
    en: "no organisation of this choice reports both women and men employees",
  },
  perPopulationOf: {
    fr: "zone {area}, population {n}",
    ar: "المنطقة {area}، السكان {n}",
    en: "area {area}, population {n}",
  },
  country: { fr: "Maroc", ar: "المغرب", en: "Morocco" },
  scope: { fr: "Sélection", ar: "الاختيار", en: "Selection" },
  everything: {
    fr: "toutes les organisations",
    ar: "جميع الهيئات",
    en: "all organisations",
  },
  snapshotOf: { fr: "instantané {id} du {date}", ar: "النسخة {id} بتاريخ {date}", en: "snapshot {id} of {date}" },
  // charts
  byRegion: { fr: "Par région", ar: "حسب الجهة", en: "By region" },
  bySector: { fr: "Par secteur", ar: "حسب القطاع", en: "By sector" },
  byYear: { fr: "Par année de création", ar: "حسب سنة التأسيس", en: "By founding year" },
  byFamily: { fr: "Par famille", ar: "حسب الفئة", en: "By family" },
  byStatus: { fr: "Par statut", ar: "حسب الوضعية", en: "By status" },
  mapHelp: {
    fr: "Carte schématique : une case par région, placée à peu près comme sur la carte du Maroc. Choisir une case filtre sur sa région ; la choisir à nouveau retire le filtre.",
    ar: "خريطة تخطيطية: خانة لكل جهة، موضوعة تقريبا كما على خريطة المغرب. اختيار خانة يصفي حسب جهتها، واختيارها مرة أخرى يلغي التصفية.",
    en: "Schematic map: one tile per region, placed roughly as on the map of Morocco. Choosing a tile filters on its region; choosing it again removes the filter.",
  },
  tileOutside: { fr: "hors sélection", ar: "خارج الاختيار", en: "not selected" },
  unknownRegion: {
    fr: "Région inconnue : {n} organisations (hors carte, dans le tableau).",
    ar: "جهة غير معروفة: {n} هيئة (خارج الخريطة، في الجدول).",
    en: "Unknown region: {n} organisations (not on the map, in the table).",
  },
  unknownYear: {
    fr: "Année de création inconnue : {n} organisations (dans le tableau).",
    ar: "سنة تأسيس غير معروفة: {n} هيئة (في الجدول).",
    en: "Unknown founding year: {n} organisations (in the table).",
  },
  noData: { fr: "Aucune organisation pour ce choix.", ar: "لا توجد أي هيئة لهذا الاختيار.", en: "No organisation for this choice." },
  legend: { fr: "Légende", ar: "مفتاح الألوان", en: "Legend" },
  peak: { fr: "maximum : {v} ({year})", ar: "الحد الأقصى: {v} ({year})", en: "peak: {v} ({year})" },
  tableCaption: { fr: "{chart} — {scope}", ar: "{chart} — {scope}", en: "{chart} — {scope}" },
  total: { fr: "Total", ar: "المجموع", en: "Total" },
  perPopulationColumns: {
    fr: "Les rapports à la population utilisent le recensement 2024 (HCP, RGPH 2024) de la zone de chaque ligne, ou de la zone filtrée.",
    ar: "تستعمل النسب إلى السكان إحصاء 2024 (المندوبية السامية للتخطيط) لمنطقة كل سطر، أو للمنطقة المختارة.",
    en: "Per-inhabitant figures use the 2024 census (HCP, RGPH 2024) of each row's area, or of the filtered area.",
  },
  csv: { fr: "Télécharger ces chiffres (CSV)", ar: "تحميل هذه الأرقام (CSV)", en: "Download these figures (CSV)" },
  csvExcel: { fr: "CSV pour Excel (français)", ar: "CSV لبرنامج Excel (بالفرنسية)", en: "CSV for Excel (French)" },
  cite: { fr: "Citer ces chiffres", ar: "الاستشهاد بهذه الأرقام", en: "Cite these figures" },
  // changes
  changes: { fr: "Évolution depuis l'instantané précédent", ar: "التغير منذ النسخة السابقة", en: "Changes since the previous snapshot" },
  firstSnapshot: {
    fr: "Cet instantané est le premier publié : il n'y a rien à comparer.",
    ar: "هذه النسخة هي أول نسخة منشورة: لا يوجد ما يقارن به.",
    en: "This snapshot is the first one published: there is nothing to compare it with.",
  },
  diffBetween: {
    fr: "De l'instantané {from} ({fromDate}) à l'instantané {to} ({toDate}).",
    ar: "من النسخة {from} ({fromDate}) إلى النسخة {to} ({toDate}).",
    en: "From snapshot {from} ({fromDate}) to snapshot {to} ({toDate}).",
  },
  diffScope: {
    fr: "Comptés par famille et par région : les autres filtres ne s'appliquent pas ici.",
    ar: "محسوبة حسب الفئة والجهة: لا تنطبق هنا عوامل التصفية الأخرى.",
    en: "Counted by family and region: the other filters do not apply here.",
  },
  added: { fr: "Ajoutées", ar: "مضافة", en: "Added" },
  removed: { fr: "Retirées", ar: "محذوفة", en: "Removed" },
  changed: { fr: "Modifiées", ar: "معدلة", en: "Changed" },
  unchanged: { fr: "Inchangées", ar: "دون تغيير", en: "Unchanged" },
  diffCaption: {
    fr: "Organisations ajoutées, retirées et modifiées, par famille",
    ar: "الهيئات المضافة والمحذوفة والمعدلة، حسب الفئة",
    en: "Organisations added, removed and changed, by family",
  },
  // downloads and about
  downloads: { fr: "Données complètes de l'instantané", ar: "البيانات الكاملة للنسخة", en: "The snapshot's full data" },
  downloadsHelp: {
    fr: "Chaque organisation, en Parquet, avec la description des colonnes (Data Package) et des métadonnées DCAT.",
    ar: "كل هيئة بصيغة Parquet، مع وصف الأعمدة (Data Package) وبيانات DCAT الوصفية.",
    en: "Every organisation, as Parquet, with the columns' description (Data Package) and DCAT metadata.",
  },
  rows: { fr: "{n} lignes", ar: "{n} سطر", en: "{n} rows" },
  orgCount: { fr: "{n} organisations", ar: "{n} هيئة", en: "{n} organisations" },
  womenChartNote: {
    fr: "Seules les coopératives déclarent leurs membres femmes : « inconnu » là où aucune coopérative n'est comptée.",
    ar: "التعاونيات وحدها تصرح بعدد العضوات: «غير معروف» حيث لا توجد أي تعاونية.",
    en: "Only cooperatives report women members: “unknown” where no cooperative is counted.",
  },
  about: { fr: "À propos des chiffres", ar: "حول الأرقام", en: "About the figures" },
  about1: {
    fr: "Les sommes (membres, salariés) portent sur les organisations qui déclarent la valeur ; une part calculée sur une partie des organisations le dit, et une valeur inconnue est affichée « inconnu », jamais zéro.",
    ar: "تشمل المجاميع (الأعضاء، الأجراء) الهيئات التي تصرح بالقيمة؛ وكل نسبة محسوبة على جزء من الهيئات تذكر ذلك، وتعرض القيمة غير المعروفة «غير معروف» وليس صفرا.",
    en: "Sums (members, employees) cover the organisations that report the value; a share computed over part of the organisations says so, and an unknown value is shown as “unknown”, never as zero.",
  },
  about2: {
    fr: "Tout ce que montre cette page vient de l'API publique : GraphQL et exports CSV, épinglés à un instantané qui ne change plus.",
    ar: "كل ما تعرضه هذه الصفحة مصدره الواجهة البرمجية العمومية: GraphQL وتصدير CSV، مثبتة على نسخة لا تتغير.",
    en: "Everything this page shows comes from the public API: GraphQL and CSV exports, pinned to a snapshot that never changes.",
  },
  api: { fr: "API GraphQL", ar: "واجهة GraphQL البرمجية", en: "GraphQL API" },
  licence: {
    fr: "Données sous licence CC BY 4.0.",
    ar: "البيانات مرخصة بموجب CC BY 4.0.",
    en: "Data under the CC BY 4.0 licence.",
  },
  // states
  loading: { fr: "Chargement des chiffres…", ar: "جار تحميل الأرقام…", en: "Loading the figures…" },
  error: {
    fr: "Les chiffres n'ont pas pu être chargés : {msg}",
    ar: "تعذر تحميل الأرقام: {msg}",
    en: "The figures could not be loaded: {msg}",
  },
  retry: { fr: "Réessayer", ar: "إعادة المحاولة", en: "Try again" },
};

let current = "fr";

/** Sets the language of every later call. */
export function setLang(lang) {
  current = LANGS.includes(lang) ? lang : "fr";
}

/** The language in force. */
export function lang() {
  return current;
}

/** The string `key` in the language in force, `{name}` replaced from `vars`. */
export function t(key, vars) {
  const entry = S[key];
  let s = entry ? entry[current] ?? entry.fr : key;
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }
  return s;
}

const cache = new Map();
function nf(opts) {
  const k = current + JSON.stringify(opts);
  let f = cache.get(k);
  if (!f) {
    f = new Intl.NumberFormat(LOCALES[current], opts);
    cache.set(k, f);
  }
  return f;
}

/** An integer, grouped as the locale does. */
export function int(n) {
  return n == null ? t("unknownLower") : nf({ maximumFractionDigits: 0 }).format(n);
}

/** A share (0..1) as a percentage; null is "unknown". */
export function pct(x, digits = 1) {
  return x == null ? t("unknownLower") : nf({ style: "percent", maximumFractionDigits: digits }).format(x);
}

/** A small percentage (shares of the employed): two significant digits. */
export function pctSmall(x) {
  if (x == null) return t("unknownLower");
  if (x === 0) return nf({ style: "percent" }).format(0);
  return nf({ style: "percent", maximumSignificantDigits: 2 }).format(x);
}

/** A ratio such as organisations per 100,000 inhabitants. */
export function ratio(x) {
  if (x == null) return t("unknownLower");
  if (x > 0 && x < 1) return nf({ maximumSignificantDigits: 2 }).format(x);
  const digits = x >= 100 ? 0 : x >= 10 ? 1 : 2;
  return nf({ maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(x);
}

/** A date (`yyyy-mm-dd…`) as the locale writes it. */
export function date(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(LOCALES[current], { dateStyle: "long", timeZone: "UTC" }).format(d);
}

/** A size in bytes, in kB or MB as the locale writes them. */
export function bytes(n) {
  if (n == null) return t("unknownLower");
  const [unit, v] = n >= 1e6 ? ["megabyte", n / 1e6] : ["kilobyte", n / 1e3];
  return nf({ style: "unit", unit, maximumFractionDigits: v >= 10 ? 0 : 1 }).format(v);
}
