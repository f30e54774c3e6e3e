# Reference values for the simulated quantities of geo_stunting's pattern step.
# Run from the repository root:
#   Rscript tests/reference/pattern/simulation_reference.R
# Reads fixture_points.csv / fixture_window.wkt and writes simulation_reference.json:
#   * envelope(): pointwise (nrank 25) and global (nrank 50) envelopes of L for the
#     cases, 999 simulations of CSR in the window, with the mean and sd of the
#     simulated curves;
#   * K_case - K_control under random labelling (rlabel), 999 relabellings, written
#     out with spatstat's Kest: mean, sd, 25th smallest/largest, D+ p-value;
#   * Cuzick-Edwards T_k (k = 1, 3, 5, 10) with knearneigh on the subjects whose
#     location is not shared (no ties), 9999 relabellings, plain and within strata;
#   * envelope(): pointwise (nrank 25) envelope of G (Kaplan-Meier) for the cases, CSR with
#     n fixed (fix.n = TRUE, as geo_stunting simulates; spatstat's default lets n vary), with
#     the mean and sd of the simulated curves.
suppressMessages({
  library(spatstat)
  library(spdep)
  library(jsonlite)
})
set.seed(20231)
here <- "tests/reference/pattern"
pts <- read.csv(file.path(here, "fixture_points.csv"), stringsAsFactors = FALSE)
wkt <- readLines(file.path(here, "fixture_window.wkt"))
rings <- regmatches(wkt, gregexpr("\\(([^()]+)\\)", wkt))[[1]]
polys <- lapply(rings, function(ring) {
  ring <- gsub("[()]", "", ring)
  xy <- do.call(rbind, lapply(strsplit(strsplit(ring, ",")[[1]], " "), function(p) {
    as.numeric(p[nzchar(p)])
  }))
  xy <- xy[-nrow(xy), , drop = FALSE]
  list(x = xy[, 1], y = xy[, 2])
})
signed_area <- function(p) 0.5 * sum(p$x * c(p$y[-1], p$y[1]) - c(p$x[-1], p$x[1]) * p$y)
for (k in seq_along(polys)) {
  clockwise <- signed_area(polys[[k]]) < 0
  if ((k == 1) == clockwise) polys[[k]] <- lapply(polys[[k]], rev)
}
W <- owin(poly = polys)
X <- ppp(pts$x, pts$y, window = W, marks = factor(pts$status), check = FALSE)
cases <- X[marks(X) == "case"]
r <- seq(0, 1625, length.out = 101)

# CSR envelopes of L for the cases
E <- envelope(unmark(cases), Lest, r = r, correction = "isotropic", nsim = 999, nrank = 25,
              savefuns = TRUE, verbose = FALSE)
sims <- as.matrix(as.data.frame(attr(E, "simfuns"))[, -1])
EG <- envelope(unmark(cases), Lest, r = r, correction = "isotropic", nsim = 999, nrank = 50,
               global = TRUE, verbose = FALSE)
envelope_L <- list(r = r, lo = E$lo, hi = E$hi, mean = rowMeans(sims),
                   sd = apply(sims, 1, sd), global_hi = EG$hi, global_lo = EG$lo)

# K_case - K_control under random labelling
kdiff <- function(Y) {
  k1 <- Kest(Y[marks(Y) == "case"], r = r, correction = "isotropic")$iso
  k0 <- Kest(Y[marks(Y) == "control"], r = r, correction = "isotropic")$iso
  k1 - k0
}
obs <- kdiff(X)
D <- t(replicate(999, kdiff(rlabel(X))))
m <- colMeans(D)
s <- apply(D, 2, sd)
use <- s > 0
dplus <- function(d) sum((d[use] - m[use]) / s[use])
sorted <- apply(D, 2, sort)
kdiff_ref <- list(r = r, observed = obs, mean = m, sd = s, lo = sorted[25, ], hi = sorted[975, ],
                  p_dplus = (1 + sum(apply(D, 1, dplus) >= dplus(obs))) / 1000)

# Cuzick-Edwards
shared <- duplicated(pts[, c("x", "y")]) | duplicated(pts[, c("x", "y")], fromLast = TRUE)
sub <- pts[!shared, ]
y <- as.numeric(sub$status == "case")
n <- nrow(sub)
n1 <- sum(y)
strata <- factor(sub$stratum)
permute_within <- function(y) {
  out <- y
  for (g in levels(strata)) {
    idx <- which(strata == g)
    out[idx] <- y[idx][sample.int(length(idx))]
  }
  out
}
ce <- lapply(c(1, 3, 5, 10), function(k) {
  nb <- knearneigh(as.matrix(sub[, c("x", "y")]), k = k)$nn
  tk <- function(v) sum(v * rowSums(matrix(v[nb], nrow = n)))
  t_obs <- tk(y)
  sims <- replicate(9999, tk(sample(y)))
  sims_s <- replicate(9999, tk(permute_within(y)))
  list(k = k, T = t_obs, expected = n * k * n1 * (n1 - 1) / (n * (n - 1)),
       p_mc = (1 + sum(sims >= t_obs)) / 10000, mean_sim = mean(sims),
       p_mc_strata = (1 + sum(sims_s >= t_obs)) / 10000, mean_sim_strata = mean(sims_s))
})

# CSR envelopes of G (Kaplan-Meier) for the cases (added after the others, so the
# random streams of the values above are unchanged)
rg <- seq(0, 400, length.out = 81)
EGp <- envelope(unmark(cases), Gest, r = rg, correction = "km", nsim = 999, nrank = 25, fix.n = TRUE,
                savefuns = TRUE, verbose = FALSE)
gsims <- as.matrix(as.data.frame(attr(EGp, "simfuns"))[, -1])
envelope_G <- list(r = rg, obs = EGp$obs, lo = EGp$lo, hi = EGp$hi, mean = rowMeans(gsims),
                   sd = apply(gsims, 1, sd))

write_json(list(envelope_L = envelope_L, kdiff = kdiff_ref, cuzick_edwards = ce,
                envelope_G = envelope_G),
           file.path(here, "simulation_reference.json"), digits = NA, auto_unbox = TRUE)
