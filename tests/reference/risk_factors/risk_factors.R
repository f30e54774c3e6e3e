# Reference values for geo_stunting's risk-factor tables (tests/test_risk_factors.py).
#
# Run from the repository root:
#   Rscript tests/reference/risk_factors/risk_factors.R
# Reads  tests/reference/risk_factors/subjects.csv (fixture from make_fixture.py: the synthetic
#        demo subjects with a few values blanked) and tables.csv (small level x case/control tables)
# Writes tests/reference/risk_factors/risk_factors.json
#
# Tables are levels (rows) x case/control (columns), as in geo_stunting.
# - chisq.test(x, correct = TRUE): Yates' correction for 2x2; no correction exists for larger tables.
# - fisher.test(x): two-sided; Fisher-Freeman-Halton (network algorithm) for r x 2 tables.
# - The test geo_stunting chooses: Fisher when an expected count is below 5.
# - Sample odds ratio of each level vs the reference level, Woolf (logit) 95% CI, 0.5 added to
#   every cell when a cell is 0 -- written out from the formula here.
# - prop.trend.test(cases, totals) with scores 1, 2, 3, ... (ordinal factors).
# - Continuous factors: mean, sd, quantile(type = 7), shapiro.test per group,
#   wilcox.test(cases, controls, exact = FALSE, correct = TRUE), t.test(cases, controls) (Welch),
#   cor.test(x, case) with method "pearson" and "spearman" (exact = FALSE; the case indicator is
#   tied, so R would use this approximation anyway).
# - glm(case ~ ..., family = binomial) with each categorical factor releveled to its reference,
#   complete cases (na.omit); confint.default (Wald) for the adjusted odds ratios.

dir <- file.path("tests", "reference", "risk_factors")
subjects <- read.csv(file.path(dir, "subjects.csv"), stringsAsFactors = FALSE,
                     na.strings = c("", "NA"))
tables <- read.csv(file.path(dir, "tables.csv"), stringsAsFactors = FALSE)

num <- function(x) if (is.null(x) || length(x) == 0 || !is.finite(x)) NULL else unname(x)

spec <- list(
  categorical = c("sex", "mother_knowledge", "income_below_umr", "exclusive_breastfeeding",
                  "infectious_disease"),
  ordinal = list(mother_education = c("primary", "junior", "senior", "higher")),
  continuous = c("age_months", "lighting_lux", "room_temp_c", "humidity_pct", "ventilation_pct",
                 "occupancy_m2_per_person", "water_tds_mgl", "water_turbidity_ntu",
                 "water_temp_c", "water_salinity_ppt", "water_ph", "water_conductivity_uscm",
                 "water_fe_mgl", "water_mn_mgl", "water_zn_mgl", "water_chloride_mgl"),
  reference = list(sex = "F", mother_knowledge = "good", income_below_umr = "no",
                   exclusive_breastfeeding = "yes", infectious_disease = "no"),
  logistic = c("mother_knowledge", "income_below_umr", "exclusive_breastfeeding",
               "infectious_disease", "mother_education", "water_mn_mgl", "humidity_pct",
               "lighting_lux")
)

woolf <- function(a, b, c, d) {
  # a, b: cases, controls at the level; c, d: at the reference level
  cells <- c(a, b, c, d)
  if (a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0) return(list(or = NULL, ci = NULL))
  haldane <- any(cells == 0)
  if (haldane) cells <- cells + 0.5
  log_or <- log(cells[1]) + log(cells[4]) - log(cells[2]) - log(cells[3])
  se <- sqrt(sum(1 / cells))
  z <- qnorm(0.975)
  list(or = exp(log_or), ci = c(exp(log_or - z * se), exp(log_or + z * se)), haldane = haldane)
}

table_tests <- function(x) {
  # x: matrix levels x (case, control), empty rows dropped
  x <- x[rowSums(x) > 0, , drop = FALSE]
  min_expected <- min(outer(rowSums(x), colSums(x)) / sum(x))
  chi <- suppressWarnings(chisq.test(x, correct = TRUE))
  fis <- fisher.test(x, workspace = 2e8)
  list(
    min_expected = min_expected,
    test = if (min_expected < 5) {
      if (nrow(x) == 2) "Fisher exact" else "Fisher-Freeman-Halton exact"
    } else {
      if (nrow(x) == 2) "chi-square (Yates)" else "chi-square (Pearson)"
    },
    chisq_statistic = num(chi$statistic),
    chisq_df = num(chi$parameter),
    chisq_p_value = num(chi$p.value),
    fisher_p_value = num(fis$p.value)
  )
}

describe <- function(v) {
  v <- v[!is.na(v)]
  q <- quantile(v, c(0.25, 0.5, 0.75), type = 7, names = FALSE)
  list(n = length(v), mean = mean(v), sd = sd(v), median = q[2], q1 = q[1], q3 = q[3],
       min = min(v), max = max(v))
}

case <- as.integer(subjects$status == "case")
factors <- list()

for (name in c(spec$categorical, names(spec$ordinal))) {
  v <- subjects[[name]]
  keep <- !is.na(v)
  if (name %in% names(spec$ordinal)) {
    levels <- spec$ordinal[[name]]
    reference <- levels[1]
  } else {
    reference <- spec$reference[[name]]
    levels <- c(setdiff(sort(unique(v[keep])), reference), reference)
  }
  x <- t(sapply(levels, function(l) c(sum(v[keep] == l & case[keep] == 1),
                                      sum(v[keep] == l & case[keep] == 0))))
  ref_row <- which(levels == reference)
  per_level <- list()
  for (i in seq_along(levels)) {
    w <- if (i == ref_row) list(or = NULL, ci = NULL) else
      woolf(x[i, 1], x[i, 2], x[ref_row, 1], x[ref_row, 2])
    per_level[[levels[i]]] <- list(cases = x[i, 1], controls = x[i, 2],
                                   odds_ratio = w$or, ci95 = w$ci)
  }
  entry <- c(list(n = sum(keep), n_missing = sum(!keep), levels = per_level), table_tests(x))
  if (name %in% names(spec$ordinal)) {
    tr <- prop.trend.test(x[, 1], rowSums(x))
    entry$trend_statistic <- num(tr$statistic)
    entry$trend_p_value <- num(tr$p.value)
  }
  factors[[name]] <- entry
}

for (name in spec$continuous) {
  v <- subjects[[name]]
  keep <- !is.na(v)
  cases <- v[keep & case == 1]
  controls <- v[keep & case == 0]
  sw_cases <- shapiro.test(cases)
  sw_controls <- shapiro.test(controls)
  mw <- wilcox.test(cases, controls, exact = FALSE, correct = TRUE)
  tt <- t.test(cases, controls)
  pe <- cor.test(v[keep], case[keep], method = "pearson")
  sp <- cor.test(v[keep], case[keep], method = "spearman", exact = FALSE)
  factors[[name]] <- list(
    n = sum(keep), n_missing = sum(!keep),
    all = describe(v), cases = describe(cases), controls = describe(controls),
    shapiro_cases_W = num(sw_cases$statistic), shapiro_cases_p = num(sw_cases$p.value),
    shapiro_controls_W = num(sw_controls$statistic), shapiro_controls_p = num(sw_controls$p.value),
    mann_whitney_W = num(mw$statistic), mann_whitney_p = num(mw$p.value),
    welch_t = num(tt$statistic), welch_df = num(tt$parameter), welch_p = num(tt$p.value),
    welch_ci95 = unname(tt$conf.int[1:2]),
    welch_mean_difference = unname(tt$estimate[1] - tt$estimate[2]),
    pearson_r = num(pe$estimate), pearson_t = num(pe$statistic), pearson_p = num(pe$p.value),
    pearson_ci95 = unname(pe$conf.int[1:2]),
    spearman_rho = num(sp$estimate), spearman_S = num(sp$statistic), spearman_p = num(sp$p.value)
  )
}

# Multivariable logistic regression
model_data <- subjects[, c("status", spec$logistic)]
model_data$case <- case
for (name in intersect(spec$logistic, c(spec$categorical, names(spec$ordinal)))) {
  levels <- if (name %in% names(spec$ordinal)) spec$ordinal[[name]] else
    c(spec$reference[[name]], setdiff(sort(unique(na.omit(subjects[[name]]))),
                                      spec$reference[[name]]))
  model_data[[name]] <- factor(model_data[[name]], levels = levels)
}
formula <- as.formula(paste("case ~", paste(spec$logistic, collapse = " + ")))
fit <- glm(formula, data = model_data, family = binomial,
           control = glm.control(epsilon = 1e-14, maxit = 100))
co <- summary(fit)$coefficients
ci <- confint.default(fit)
terms <- list()
for (i in seq_len(nrow(co))) {
  terms[[rownames(co)[i]]] <- list(
    coefficient = co[i, 1], se = co[i, 2], z = co[i, 3], p_value = co[i, 4],
    odds_ratio = exp(co[i, 1]), ci95 = unname(exp(ci[i, ]))
  )
}
logistic <- list(
  n = nrow(model.frame(fit)), n_cases = sum(model.frame(fit)$case),
  terms = terms, log_likelihood = as.numeric(logLik(fit)), deviance = deviance(fit),
  null_deviance = fit$null.deviance, aic = AIC(fit)
)

# Small tables
small <- list()
for (id in unique(tables$table)) {
  part <- tables[tables$table == id, ]
  x <- as.matrix(part[, c("case", "control")])
  rownames(x) <- part$level
  ref <- nrow(x)
  ors <- lapply(seq_len(nrow(x) - 1), function(i) {
    w <- woolf(x[i, 1], x[i, 2], x[ref, 1], x[ref, 2])
    list(level = part$level[i], odds_ratio = w$or, ci95 = w$ci)
  })
  tr <- suppressWarnings(prop.trend.test(x[, 1], rowSums(x)))
  small[[id]] <- c(
    list(cases = part$case, controls = part$control, levels = part$level, odds = ors,
         trend_statistic = num(tr$statistic), trend_p_value = num(tr$p.value)),
    table_tests(x)
  )
}

spec_out <- spec
spec_out$categorical <- I(spec$categorical)
spec_out$continuous <- I(spec$continuous)
spec_out$logistic <- I(spec$logistic)
out <- list(
  generated_by = "tests/reference/risk_factors/risk_factors.R",
  r_version = R.version.string,
  spec = spec_out,
  factors = factors,
  logistic = logistic,
  tables = small
)
jsonlite::write_json(out, file.path(dir, "risk_factors.json"), auto_unbox = TRUE,
                     digits = NA, pretty = TRUE, null = "null")
cat("wrote", file.path(dir, "risk_factors.json"), "\n")
