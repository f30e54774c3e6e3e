# Reference values for geo_stunting's autocorrelation statistics, from spdep.
# Run from the repository root:
#   Rscript tests/reference/autocorrelation/spdep_reference.R
# Reads tests/reference/pattern/fixture_points.csv and writes spdep_reference.json.
# moran.mc's p-value is one-sided (greater), as geo_stunting's p_sim.
# Permutation p-values (9999 permutations) are Monte Carlo estimates: compare
# within Monte Carlo error. Two neighbour rules on the case indicator (1 = case):
#   knn5:  5 nearest neighbours (knearneigh) on the subjects whose location is
#          not shared (no ties, so every implementation agrees);
#   band:  every subject within 800 m (dnearneigh, bounds "GE"/"LE": distance 0
#          included), on all subjects, shared locations included.
suppressMessages({
  library(spdep)
  library(jsonlite)
})
set.seed(20231)
pts <- read.csv("tests/reference/pattern/fixture_points.csv", stringsAsFactors = FALSE)
shared <- duplicated(pts[, c("x", "y")]) | duplicated(pts[, c("x", "y")], fromLast = TRUE)

# Conditional permutation p-values of local Moran's I, written out here rather
# than taken from localmoran_perm (which draws neighbour values with
# replacement): for each subject, its neighbours' values are drawn without
# replacement from the other n - 1 subjects; p = (min(#sim >= I, #sim <= I) + 1)
# / (nsim + 1), ties (common with a 0/1 variable) counted in both tails.
conditional_p <- function(y, lw, nsim) {
  z <- (y - mean(y)) / sqrt(mean((y - mean(y))^2))
  n <- length(y)
  m2 <- sum(z^2)
  Ii <- (n - 1) * z * lag.listw(lw, z, zero.policy = TRUE) / m2
  sapply(seq_len(n), function(i) {
    w <- lw$weights[[i]]
    k <- length(w)
    if (k == 0 || (k == 1 && lw$neighbours[[i]][1] == 0)) return(NA_real_)
    others <- z[-i]
    sims <- replicate(nsim, sum(w * sample(others, k)))
    sims <- (n - 1) * z[i] * sims / m2
    tol <- 1e-10 * max(1, abs(Ii[i]))
    (min(sum(sims >= Ii[i] - tol), sum(sims <= Ii[i] + tol)) + 1) / (nsim + 1)
  })
}

run <- function(sel, nb) {
  xy <- as.matrix(pts[sel, c("x", "y")])
  y <- as.numeric(pts$status[sel] == "case")
  lw_w <- nb2listw(nb, style = "W", zero.policy = TRUE)
  lw_b <- nb2listw(nb, style = "B", zero.policy = TRUE)
  # adjust.n = FALSE: isolates stay in n, as in esda
  mt <- moran.test(y, lw_w, randomisation = TRUE, alternative = "two.sided",
                   zero.policy = TRUE, adjust.n = FALSE)
  jc <- joincount.test(factor(y, levels = c(0, 1)), lw_b, zero.policy = TRUE,
                       alternative = "greater")[[2]]
  mt_greater <- moran.test(y, lw_w, randomisation = TRUE, alternative = "greater",
                           zero.policy = TRUE, adjust.n = FALSE)
  mc <- moran.mc(y, lw_w, nsim = 9999, zero.policy = TRUE)
  msims <- mc$res[1:9999]
  tol <- 1e-10 * max(1, abs(mc$statistic))
  moran_p_sim <- (min(sum(msims >= mc$statistic - tol), sum(msims <= mc$statistic + tol)) + 1) /
    10000
  jmc <- joincount.mc(factor(y, levels = c(0, 1)), lw_b, nsim = 9999, zero.policy = TRUE)[[2]]
  lm_c <- localmoran(y, lw_w, zero.policy = TRUE, mlvar = FALSE)
  lm_p <- conditional_p(y, lw_w, nsim = 9999)
  lg <- localG(y, nb2listw(include.self(nb), style = "B", zero.policy = TRUE),
               zero.policy = TRUE)
  list(
    ids = pts$id[sel],
    neighbours = lapply(nb, function(v) if (length(v) == 1 && v == 0) integer(0) else v - 1L),
    moran = list(I = unname(mt$estimate[1]), expected = unname(mt$estimate[2]),
                 variance = unname(mt$estimate[3]), z = unname(mt$statistic),
                 p = mt$p.value, p_sim_9999 = moran_p_sim,
                 # one-sided (alternative "greater"), geo_stunting's rule for global tests
                 p_greater = mt_greater$p.value, p_sim_greater_9999 = mc$p.value),
    joincount_bb = list(bb = unname(jc$estimate[1]), expected = unname(jc$estimate[2]),
                        variance = unname(jc$estimate[3]), z = unname(jc$statistic),
                        p = jc$p.value, p_sim_9999 = jmc$p.value),
    localmoran = list(Ii = unname(lm_c[, "Ii"]),
                      p_folded_sim = lm_p),
    localG_z = as.numeric(lg)
  )
}

keep <- !shared
nb_knn <- knn2nb(knearneigh(as.matrix(pts[keep, c("x", "y")]), k = 5))
nb_band <- dnearneigh(as.matrix(pts[, c("x", "y")]), 0, 800, bounds = c("GE", "LE"))
out <- list(
  spdep = as.character(packageVersion("spdep")),
  knn5 = run(keep, nb_knn),
  band800 = run(rep(TRUE, nrow(pts)), nb_band)
)
write_json(out, "tests/reference/autocorrelation/spdep_reference.json", digits = NA,
           auto_unbox = TRUE)
