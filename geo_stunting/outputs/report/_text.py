"""Every sentence of the report, in English and Bahasa Indonesia, in one place.

`tr` formats both with the same values. Keep the two columns in step: a test
checks that every key has both languages and the same placeholders.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HALDANE_EN", "HALDANE_ID", "TEXT", "tr"]

#: The mark of an odds ratio computed with 0.5 added to every cell (a cell was 0).
HALDANE_EN = " — Haldane: 0.5 added to every cell because one was 0"
HALDANE_ID = " — Haldane: 0,5 ditambahkan ke setiap sel karena ada sel bernilai 0"

TEXT: dict[str, tuple[str, str]] = {
    # ----------------------------------------------------------------- page
    "report": ("Study report", "Laporan studi"),
    "children": ("children", "anak"),
    "switch": ("Bahasa Indonesia", "English"),
    "not_requested": ("Not requested in this run.", "Tidak diminta dalam analisis ini."),
    "not_available": (
        "Not run in this version of geo_stunting.",
        "Belum dijalankan pada versi geo_stunting ini.",
    ),
    "skipped": ("Skipped: {reason}", "Dilewati: {reason}"),
    "failed": ("Failed: {reason}", "Gagal: {reason}"),
    # ----------------------------------------------------------------- quality
    "quality_intro": (
        "Every row read is either used or listed here with the reason (also in rejects.csv).",
        (
            "Setiap baris yang dibaca dipakai atau dicantumkan di sini beserta alasannya "
            "(juga di rejects.csv)."
        ),
    ),
    "rejects_caption": (
        "Rejected rows ({shown} of {total} shown; all in rejects.csv)",
        "Baris ditolak ({shown} dari {total} ditampilkan; semua di rejects.csv)",
    ),
    "no_rejects": ("No row was rejected.", "Tidak ada baris yang ditolak."),
    # ----------------------------------------------------------------- access
    "access_answer": (
        (
            "{cw} of {nc} cases ({pc}) and {kw} of {nk} controls ({pk}) live within {buffer} m of "
            "a "
            "health facility. The difference {verdict} statistically significant ({test}, {p})."
        ),
        (
            "{cw} dari {nc} kasus ({pc}) dan {kw} dari {nk} kontrol ({pk}) tinggal dalam jarak "
            "{buffer} m dari fasilitas kesehatan. Perbedaannya {verdict} secara statistik "
            "({test}, {p})."
        ),
    ),
    "nothing_outside": (
        (
            "All {n} children, cases and controls alike, live within {buffer} m of a health "
            "facility: there is nothing to compare, so no test or odds ratio is given."
        ),
        (
            "Semua {n} anak, baik kasus maupun kontrol, tinggal dalam jarak {buffer} m dari "
            "fasilitas kesehatan: tidak ada yang dapat dibandingkan, sehingga tidak ada uji "
            "atau rasio odds."
        ),
    ),
    "nothing_within": (
        (
            "None of the {n} children lives within {buffer} m of a health facility: there is "
            "nothing to compare, so no test or odds ratio is given."
        ),
        (
            "Tidak satu pun dari {n} anak tinggal dalam jarak {buffer} m dari fasilitas "
            "kesehatan: tidak ada yang dapat dibandingkan, sehingga tidak ada uji atau rasio odds."
        ),
    ),
    "is": ("is", "bermakna"),
    "is_not": ("is not", "tidak bermakna"),
    "access_plot": (
        (
            "Distance from each child's home to the nearest health facility; box: quartiles, thick "
            "line: median; dashed: the coverage radius."
        ),
        (
            "Jarak dari rumah tiap anak ke fasilitas kesehatan terdekat; kotak: kuartil, garis "
            "tebal: median; putus-putus: radius jangkauan."
        ),
    ),
    "per_area_caption": (
        "Share of each village within {buffer} m of a facility",
        "Bagian tiap desa dalam {buffer} m dari fasilitas",
    ),
    # ----------------------------------------------------------------- clustering
    "clustering_intro": (
        (
            "Two questions are often confused. Are the cases clustered? Almost always yes, because "
            "children live in villages. Are the cases clustered more than the controls, who live "
            "in "
            "the same villages? Only that answers whether stunting itself clusters."
        ),
        (
            "Dua pertanyaan sering tertukar. Apakah kasus mengelompok? Hampir selalu ya, karena "
            "anak-anak tinggal di desa. Apakah kasus lebih mengelompok daripada kontrol yang "
            "tinggal "
            "di desa yang sama? Hanya pertanyaan kedua yang menjawab apakah stunting itu sendiri "
            "mengelompok."
        ),
    ),
    "naive": (
        (
            "1. The usual answer (what GIS tools print): compared with points scattered at random "
            "over the study area, the cases {verdict} (Clark–Evans R = {R}; R below 1 means closer "
            "together than random; two-sided Monte Carlo test, {p})."
        ),
        (
            "1. Jawaban yang biasa (seperti keluaran perangkat GIS): dibandingkan titik acak di "
            "seluruh wilayah studi, kasus {verdict} (indeks Clark–Evans R = {R}; R di bawah 1 "
            "berarti "
            "lebih berdekatan daripada acak; uji Monte Carlo dua sisi, {p})."
        ),
    ),
    "look_clustered": ("look clustered", "tampak mengelompok"),
    "not_clustered": ("do not look clustered", "tidak tampak mengelompok"),
    "naive_controls": (
        (
            "But the controls give R = {R} ({p}): children live in villages, so any group of "
            "children looks clustered against randomness. This comparison shows where children "
            "live, not where stunting is."
        ),
        (
            "Namun kontrol juga memberi R = {R} ({p}): anak-anak tinggal di desa, sehingga "
            "kelompok "
            "anak mana pun tampak mengelompok dibandingkan pola acak. Perbandingan ini menunjukkan "
            "tempat anak tinggal, bukan tempat stunting berada."
        ),
    ),
    "casecontrol": (
        (
            "2. The case-control answer: keeping every child where they live and shuffling the "
            "case/control labels at random, the cases {verdict} (K_case − K_control, one-sided D+ "
            "test, {p}; global envelope, two-sided, {p_global})."
        ),
        (
            "2. Jawaban kasus-kontrol: dengan setiap anak tetap di rumahnya dan label "
            "kasus/kontrol "
            "diacak, kasus {verdict} (K_kasus − K_kontrol, uji D+ satu sisi, {p}; selubung global, "
            "dua sisi, {p_global})."
        ),
    ),
    "cluster_more": ("cluster more than the controls", "lebih mengelompok daripada kontrol"),
    "cluster_not_more": (
        "do not cluster more than the controls",
        "tidak lebih mengelompok daripada kontrol",
    ),
    "kdiff_plot": (
        (
            "K_case − K_control (red) with the range of 95% of random relabellings (grey) and the "
            "global band (dashed). Above the grey band: cases are closer to each other than "
            "controls "
            "are, at that distance."
        ),
        (
            "K_kasus − K_kontrol (merah) dengan rentang 95% pelabelan acak (abu-abu) dan pita "
            "global "
            "(putus-putus). Di atas pita abu-abu: kasus lebih berdekatan satu sama lain daripada "
            "kontrol pada jarak itu."
        ),
    ),
    "strata": (
        "Shuffling labels only within each village: {verdict} ({p}).",
        "Pengacakan label hanya di dalam tiap desa: {verdict} ({p}).",
    ),
    "strata_yes": (
        "cases still cluster within villages",
        "kasus tetap mengelompok di dalam desa",
    ),
    "strata_no": (
        "no clustering beyond the differences between villages",
        "tidak ada pengelompokan selain perbedaan antar desa",
    ),
    "ce_caption": (
        "Cuzick–Edwards: case neighbours among each case's k nearest",
        "Cuzick–Edwards: tetangga kasus di antara k tetangga terdekat tiap kasus",
    ),
    "moran": (
        (
            "Moran's I of the case indicator = {I} (about {E} if cases were placed at random among "
            "the children; one-sided test, {p}): the neighbours of cases {verdict}. Neighbours: "
            "{rule}."
        ),
        (
            "Indeks Moran I dari indikator kasus = {I} (sekitar {E} bila kasus ditempatkan acak di "
            "antara anak-anak; uji satu sisi, {p}): tetangga dari kasus {verdict}. Tetangga: "
            "{rule}."
        ),
    ),
    "moran_yes": (
        "are cases more often than chance would have it",
        "lebih sering berupa kasus daripada kebetulan",
    ),
    "moran_no": (
        "are not cases more often than chance",
        "tidak lebih sering berupa kasus daripada kebetulan",
    ),
    "joins": (
        "{bb} pairs of neighbours are both cases, against {expected} expected (one-sided, {p}).",
        (
            "{bb} pasang tetangga sama-sama kasus, dibandingkan {expected} yang diharapkan "
            "(satu sisi, {p})."
        ),
    ),
    "lisa_caption": (
        (
            "Local Moran (LISA), two-sided p, false discovery rate 5 % (Benjamini–Hochberg); "
            "without the correction in brackets. HH = a case among cases"
        ),
        (
            "Moran lokal (LISA), p dua sisi, tingkat penemuan palsu 5 % (Benjamini–Hochberg); "
            "tanpa koreksi dalam kurung. HH = kasus di antara kasus"
        ),
    ),
    "moran_plot": (
        (
            "Moran scatter plot: each child's case indicator (standardised, spread sideways so the "
            "dots can be seen) against the average of its neighbours; the slope is Moran's I. Red: "
            "cases, blue: controls."
        ),
        (
            "Diagram pencar Moran: indikator kasus tiap anak (dibakukan, digeser ke samping agar "
            "titik terlihat) terhadap rata-rata tetangganya; kemiringan garis adalah Moran I. "
            "Merah: "
            "kasus, biru: kontrol."
        ),
    ),
    "relrisk": (
        (
            "Smoothed with a {bandwidth} m bandwidth, {share}% of the study window has a "
            "significantly raised risk of stunting (layer relative_risk_high on the map)."
        ),
        (
            "Dengan lebar jendela {bandwidth} m, {share}% wilayah studi memiliki risiko stunting "
            "yang meningkat secara bermakna (lapisan relative_risk_high di peta)."
        ),
    ),
    "relrisk_support": (
        (
            "Smoothed with a {bandwidth} m bandwidth and tested only where at least {floor} "
            "children live within that distance ({support_km2} km²): {n} area(s) of "
            "significantly raised risk of stunting, {km2} km² holding {children} children "
            "(one-sided, false discovery rate 5 %; layer relative_risk_high on the map)."
        ),
        (
            "Dengan lebar jendela {bandwidth} m dan diuji hanya di tempat paling sedikit {floor} "
            "anak tinggal dalam jarak itu ({support_km2} km²): {n} wilayah dengan risiko stunting "
            "yang meningkat secara bermakna, {km2} km² dengan {children} anak (satu sisi, tingkat "
            "penemuan palsu 5 %; lapisan relative_risk_high di peta)."
        ),
    ),
    # ----------------------------------------------------------------- scan
    "no_scan_cluster": (
        "No window has more cases than expected.",
        "Tidak ada jendela dengan kasus lebih banyak dari harapan.",
    ),
    "scan_top": (
        (
            "Most likely cluster: {n} children within {radius} m, {cases} of them cases where "
            "{expected} were expected (relative risk {rr}, one-sided, {p}): {verdict}"
        ),
        (
            "Klaster paling mungkin: {n} anak dalam radius {radius} m, {cases} di antaranya kasus "
            "padahal yang diharapkan {expected} (risiko relatif {rr}, satu sisi, {p}): {verdict}"
        ),
    ),
    "scan_limit_gini": (
        (
            "Largest window: {share}% of the children, chosen among {n} maximum sizes as the one "
            "whose significant clusters best separate high from low risk (Gini coefficient "
            "{gini}, as SaTScan offers)."
        ),
        (
            "Jendela terbesar: {share}% anak, dipilih di antara {n} ukuran maksimum sebagai "
            "ukuran yang klaster bermaknanya paling baik memisahkan risiko tinggi dan rendah "
            "(koefisien Gini {gini}, seperti pada SaTScan)."
        ),
    ),
    "scan_limit_none": (
        (
            "Largest window: {share}% of the children (SaTScan's default); none of the {n} "
            "maximum sizes tried gives a significant cluster."
        ),
        (
            "Jendela terbesar: {share}% anak (bawaan SaTScan); tidak satu pun dari {n} ukuran "
            "maksimum yang dicoba memberi klaster bermakna."
        ),
    ),
    "scan_limit_radius": (
        "Largest window: {share}% of the children and a radius of {radius} m (study file).",
        "Jendela terbesar: {share}% anak dan radius {radius} m (berkas studi).",
    ),
    "scan_limit_share": (
        "Largest window: {share}% of the children (study file).",
        "Jendela terbesar: {share}% anak (berkas studi).",
    ),
    "unlikely_chance": ("unlikely to be chance.", "kecil kemungkinan karena kebetulan."),
    "could_be_chance": ("this could be chance.", "bisa jadi karena kebetulan."),
    # ----------------------------------------------------------------- risk factors
    "rf_answer": (
        "Associated with stunting at p ≤ 0.05 ({k} of {n} factors): {names}.",
        "Berhubungan dengan stunting pada p ≤ 0,05 ({k} dari {n} faktor): {names}.",
    ),
    "rf_inferred": (
        (
            "The factors were inferred from the columns (no [risk_factors] section): check their "
            "types and reference levels in the notes below."
        ),
        (
            "Faktor ditentukan otomatis dari kolom (tanpa bagian [risk_factors]): periksa jenis "
            "dan "
            "kategori pembandingnya pada catatan di bawah."
        ),
    ),
    "table1": (
        (
            "Table 1. Characteristics of cases and controls: n (% of the group), mean ± SD, "
            "median [IQR]"
        ),
        "Tabel 1. Karakteristik kasus dan kontrol: n (% kelompok), rerata ± SB, median [RAK]",
    ),
    "table2": (
        (
            "Table 2. Categorical factors and stunting: row percentages; odds ratio of each level "
            "against the reference (ref); point at a test to see why it was chosen"
        ),
        (
            "Tabel 2. Faktor kategorik dan stunting: persentase baris; rasio odds tiap kategori "
            "terhadap pembanding (ref); arahkan kursor ke uji untuk melihat alasan pemilihannya"
        ),
    ),
    "table3": (
        (
            "Table 3. Continuous factors: correlation with being a case (1 = case, 0 = control; "
            "positive: higher values among cases) and the test between groups"
        ),
        (
            "Tabel 3. Faktor numerik: korelasi dengan status kasus (1 = kasus, 0 = kontrol; "
            "positif: "
            "nilai lebih tinggi pada kasus) dan uji antar kelompok"
        ),
    ),
    "table4": (
        "Table 4. Multivariable logistic regression (n = {n}, {cases} cases; AIC {aic})",
        "Tabel 4. Regresi logistik multivariabel (n = {n}, {cases} kasus; AIC {aic})",
    ),
    "no_model": (
        "Logistic regression not fitted: {reason}",
        "Regresi logistik tidak dijalankan: {reason}",
    ),
    "forest_axis": (
        "odds ratio (log scale) against the reference level",
        "rasio odds (skala log) terhadap kategori pembanding",
    ),
    "forest": (
        (
            "Odds ratios with 95% CI. Red: more likely among cases; blue: less likely; grey: the "
            "CI "
            "includes 1."
        ),
        (
            "Rasio odds dengan IK 95%. Merah: lebih sering pada kasus; biru: lebih jarang; "
            "abu-abu: "
            "IK mencakup 1."
        ),
    ),
    "respondents": (
        (
            "Respondents table {path}: {joined} of {rows} rows joined; {orphans} rows without a "
            "subject; {missing} subjects without a respondent row."
        ),
        (
            "Tabel responden {path}: {joined} dari {rows} baris tergabung; {orphans} baris tanpa "
            "subjek; {missing} subjek tanpa baris responden."
        ),
    ),
    # ----------------------------------------------------------------- map, provenance
    "map_link": (
        '<a href="{href}">Open the interactive map</a> (the file {href} beside this report).',
        '<a href="{href}">Buka peta interaktif</a> (berkas {href} di samping laporan ini).',
    ),
    "no_map": ("No map with this report.", "Tidak ada peta bersama laporan ini."),
    "print_map": (
        "Print-ready map ({src}, 300 dpi; all pages in map.pdf). No home location is shown.",
        "Peta siap cetak ({src}, 300 dpi; semua halaman di map.pdf). Tidak ada lokasi rumah.",
    ),
    "privacy": (
        (
            "The map shows the children's home locations: it is confidential health data. This "
            "report shows no home location (scan centres are rounded to about 1 km)."
        ),
        (
            "Peta menunjukkan lokasi rumah anak-anak: data kesehatan yang rahasia. Laporan ini "
            "tidak "
            "menampilkan lokasi rumah (pusat klaster dibulatkan sampai sekitar 1 km)."
        ),
    ),
    "provenance": (
        (
            "The numbers are in results.json (the same seed gives the same file); timings, "
            "versions "
            "of GDAL/PROJ/GEOS and the command line are in run.json."
        ),
        (
            "Angka-angka ada di results.json (seed yang sama memberi berkas yang sama); waktu, "
            "versi "
            "GDAL/PROJ/GEOS dan baris perintah ada di run.json."
        ),
    ),
    # ----------------------------------------------------------------- areas
    "areas_intro_counts": (
        (
            "Counts per area: {n} areas, cases and children at risk given for each. Rates are "
            "in percent; the empirical-Bayes rate pulls the rate of an area with few children "
            "towards the overall rate, so that small areas do not dominate the map by chance."
        ),
        (
            "Jumlah per wilayah: {n} wilayah, masing-masing dengan jumlah kasus dan anak yang "
            "diukur. Angka dalam persen; angka empiris-Bayes menarik angka wilayah dengan sedikit "
            "anak ke arah angka keseluruhan, agar wilayah kecil tidak mendominasi peta karena "
            "kebetulan."
        ),
    ),
    "areas_intro_prevalence": (
        "Prevalence per area: {n} areas, published percentages.",
        "Prevalensi per wilayah: {n} wilayah, persentase yang dipublikasikan.",
    ),
    "areas_intro_aggregate": (
        "Cases and controls of this study counted per area: {n} areas with at least one child.",
        (
            "Kasus dan kontrol studi ini dihitung per wilayah: {n} wilayah dengan sedikitnya "
            "satu anak."
        ),
    ),
    "areas_prevalence_only": (
        (
            "Only percentages were given, without the number of children measured. They "
            "support a map of the published figures, a ranking, and Moran's I, LISA and Gi* as "
            "a description of how the figures are arranged in space. They cannot support "
            "empirical-Bayes smoothing, the EB Moran index, the Poisson probability map, the "
            "scan, or a confidence interval for any area or any change: without sample sizes "
            "nothing separates a real difference from sampling noise."
        ),
        (
            "Hanya persentase yang tersedia, tanpa jumlah anak yang diukur. Persentase ini "
            "cukup untuk memetakan angka yang dipublikasikan, membuat peringkat, serta Moran's "
            "I, LISA dan Gi* sebagai gambaran sebaran angka di ruang. Persentase ini tidak "
            "cukup untuk penghalusan empiris-Bayes, indeks Moran EB, peta probabilitas "
            "Poisson, pemindaian, atau selang kepercayaan untuk wilayah mana pun maupun "
            "perubahan apa pun: tanpa ukuran sampel, perbedaan nyata tidak dapat dipisahkan "
            "dari variasi sampel."
        ),
    ),
    "areas_case_control": (
        (
            "The rate here is cases / (cases + controls) per area. A case-control study chooses "
            "how many controls to take per case, so this is not a prevalence: a high value "
            "means more of the study's cases than its controls live there."
        ),
        (
            "Angka di sini adalah kasus / (kasus + kontrol) per wilayah. Studi kasus-kontrol "
            "menentukan sendiri jumlah kontrol per kasus, jadi ini bukan prevalensi: nilai "
            "tinggi berarti lebih banyak kasus daripada kontrol studi ini tinggal di sana."
        ),
    ),
    "areas_few": (
        (
            "With {n} areas, Moran's I and LISA have little power: a result that is not "
            "significant does not show that there is no clustering."
        ),
        (
            "Dengan {n} wilayah, Moran's I dan LISA kurang peka: hasil yang tidak bermakna "
            "tidak membuktikan bahwa tidak ada pengelompokan."
        ),
    ),
    "areas_weights": (
        (
            "Neighbours: {rule}; {links} pairs of neighbours, {islands} island(s) without a "
            "shared border, {components} connected group(s)."
        ),
        (
            "Tetangga: {rule}; {links} pasang tetangga, {islands} pulau tanpa batas bersama, "
            "{components} kelompok yang terhubung."
        ),
    ),
    "areas_moran": (
        (
            "{period}: Moran's I = {I} ({p}, one-sided: more alike than chance); neighbouring "
            "areas {verdict}."
        ),
        (
            "{period}: Moran's I = {I} ({p}, satu sisi: lebih mirip daripada kebetulan); "
            "wilayah yang bertetangga {verdict}."
        ),
    ),
    "areas_alike": (
        "have more similar rates than chance would give",
        "memiliki angka yang lebih mirip daripada yang diberikan kebetulan",
    ),
    "areas_not_alike": (
        "are no more alike than chance would make them",
        "tidak lebih mirip daripada kebetulan",
    ),
    "areas_table": (
        (
            "Per period: rates, Moran's I on the rate (permutation p, one-sided), the EB Moran "
            "index, LISA clusters (p ≤ 0.05 uncorrected / after the false discovery rate), Gi* "
            "spots (p ≤ 0.05, uncorrected) and the most likely scan cluster"
        ),
        (
            "Per periode: angka, Moran's I dari angka (p permutasi, satu sisi), indeks Moran "
            "EB, klaster LISA (p ≤ 0,05 tanpa koreksi / setelah false discovery rate), titik "
            "Gi* (p ≤ 0,05, tanpa koreksi) dan klaster pemindaian paling mungkin"
        ),
    ),
    "areas_ranking": (
        "Highest and lowest rates, {period}",
        "Angka tertinggi dan terendah, {period}",
    ),
    "areas_changes": (
        "Change between periods (percentage points)",
        "Perubahan antarperiode (poin persentase)",
    ),
    "areas_no_ci": (
        "no interval: no sample sizes",
        "tanpa selang: tidak ada ukuran sampel",
    ),
    "areas_classes": (
        "Map classes ({method}, {period}): {bounds}.",
        "Kelas peta ({method}, {period}): {bounds}.",
    ),
}


def tr(key: str, **values: Any) -> tuple[str, str]:
    """The English and Indonesian text of `key`, formatted with `values`.

    A value that is itself a pair ``(english, indonesian)`` (another `tr`) is
    put in each language's text in its own language.
    """
    en, id_ = TEXT[key]

    def pick(lang: int) -> dict[str, Any]:
        return {
            k: v[lang] if isinstance(v, tuple) and len(v) == 2 else v for k, v in values.items()
        }

    return en.format(**pick(0)), id_.format(**pick(1))
