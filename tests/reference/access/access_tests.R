# Reference values for geo_stunting's access comparison (tests/test_access.py).
#
# Run from the repository root:
#   Rscript tests/reference/access/access_tests.R
# Reads  tests/reference/access/tables_2x2.csv and distances.csv (committed fixtures)
# Writes tests/reference/access/access_tests.json
#
# 2x2 layout (as in geo_stunting): rows within/outside the buffer, columns case/control
#            case control
#   within      a       b
#   outside     c       d
#
# - chisq.test(x, correct = TRUE): Pearson chi-square with Yates' continuity correction.
# - fisher.test(x): two-sided p-value. Its "estimate" is the conditional MLE of the odds
#   ratio, which geo_stunting does NOT report, so only the p-value is compared.
# - Sample odds ratio (a*d)/(b*c) with Woolf (logit) 95% CI, 0.5 added to every cell when a
#   cell is 0 (Haldane-Anscombe); NA when a whole row or column is 0. Written out from the
#   formula here, independently of the Python code.
# - Test chosen as geo_stunting does: Fisher when an expected count is below 5.
# - wilcox.test(cases, controls, exact = FALSE, correct = TRUE): normal approximation with
#   continuity correction and tie-corrected variance; W = U of the cases.
# - quantile(type = 7) for median and IQR.

dir <- file.path("tests", "reference", "access")
tables <- read.csv(file.path(dir, "tables_2x2.csv"), stringsAsFactors = FALSE)
distances <- read.csv(file.path(dir, "distances.csv"), stringsAsFactors = FALSE)

num <- function(x) if (is.null(x) || length(x) == 0 || !is.finite(x)) NULL else unname(x)

woolf <- function(a, b, c, d) {
  cells <- c(a, b, c, d)
  if (a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0) {
    return(list(odds_ratio = NULL, ci95 = NULL, haldane = FALSE))
  }
  haldane <- any(cells == 0)
  if (haldane) cells <- cells + 0.5
  log_or <- log(cells[1]) + log(cells[4]) - log(cells[2]) - log(cells[3])
  se <- sqrt(sum(1 / cells))
  z <- qnorm(0.975)
  list(
    odds_ratio = exp(log_or),
    ci95 = c(exp(log_or - z * se), exp(log_or + z * se)),
    haldane = haldane
  )
}

table_out <- list()
for (i in seq_len(nrow(tables))) {
  r <- tables[i, ]
  x <- matrix(c(r$a, r$c, r$b, r$d), nrow = 2,
              dimnames = list(c("within", "outside"), c("case", "control")))
  chi <- suppressWarnings(chisq.test(x, correct = TRUE))
  fis <- fisher.test(x)
  min_expected <- min(outer(rowSums(x), colSums(x)) / sum(x))
  test <- if (min_expected < 5) "Fisher exact" else "chi-square (Yates)"
  table_out[[r$table]] <- c(
    list(
      a = r$a, b = r$b, c = r$c, d = r$d,
      min_expected = min_expected,
      test = test,
      chisq_statistic = num(chi$statistic),
      chisq_p_value = num(chi$p.value),
      fisher_p_value = num(fis$p.value),
      fisher_conditional_mle = num(fis$estimate)
    ),
    woolf(r$a, r$b, r$c, r$d)
  )
}

dist_out <- list()
for (s in unique(distances$set)) {
  part <- distances[distances$set == s, ]
  cases <- part$distance_m[part$group == "case"]
  controls <- part$distance_m[part$group == "control"]
  w <- suppressWarnings(wilcox.test(cases, controls, exact = FALSE, correct = TRUE))
  summary_of <- function(v) {
    q <- quantile(v, c(0.25, 0.5, 0.75), type = 7, names = FALSE)
    list(n = length(v), median_m = q[2], q1_m = q[1], q3_m = q[3], iqr_m = q[3] - q[1],
         max_m = max(v))
  }
  dist_out[[s]] <- list(
    W = num(w$statistic),
    p_value = num(w$p.value),
    cases = summary_of(cases),
    controls = summary_of(controls)
  )
}

out <- list(
  generated_by = "tests/reference/access/access_tests.R",
  r_version = R.version.string,
  tables = table_out,
  distances = dist_out
)
jsonlite::write_json(out, file.path(dir, "access_tests.json"), auto_unbox = TRUE,
                     digits = NA, pretty = TRUE, null = "null")
cat("wrote", file.path(dir, "access_tests.json"), "\n")
