# Reference values for tests/test_areas_reference.py, computed with R spdep.
# Run from this folder:  Rscript make_reference.R
# Inputs: spData's auckland (infant deaths 1977-85, under-5 population 1981) and
# NY8 (leukaemia cases 1978-82, population 1980, upstate New York census tracts).
# Writes the small fixtures the tests read (no R needed at test time) and
# reference.json with every value the tests compare against.
suppressPackageStartupMessages({library(spdep); library(sf); library(jsonlite)})
options(digits = 15)

out <- list(spdep_version = as.character(packageVersion("spdep")),
            spData_version = as.character(packageVersion("spData")),
            R_version = R.version.string)

one <- function(n, x, nb, label) {
  lw <- nb2listw(nb, style = "W", zero.policy = TRUE)
  rate <- n / x
  eb <- EBest(n, x)
  ebl <- EBlocal(n, x, nb, zero.policy = TRUE)
  pm <- probmap(n, x)
  mt_r <- moran.test(rate, lw, randomisation = TRUE, alternative = "two.sided", zero.policy = TRUE)
  mt_n <- moran.test(rate, lw, randomisation = FALSE, alternative = "greater", zero.policy = TRUE)
  # Assuncao-Reis empirical-Bayes standardisation, as inside EBImoran.mc
  m <- attr(eb, "parameters")$b
  a <- attr(eb, "parameters")$a
  v <- a + m / x
  v[v < 0] <- m / x[v < 0]
  z <- (rate - m) / sqrt(v)
  set.seed(1)
  ebi <- EBImoran.mc(n, x, lw, nsim = 999, zero.policy = TRUE)
  lm <- localmoran(z, lw, alternative = "two.sided", zero.policy = TRUE)
  nbs <- include.self(nb)
  gstar <- localG(rate, nb2listw(nbs, style = "B", zero.policy = TRUE), zero.policy = TRUE)
  list(
    n_areas = length(n),
    card = card(nb),
    ebest_raw = eb$raw, ebest_est = eb$estmm,
    ebest_a = attr(eb, "parameters")$a, ebest_b = attr(eb, "parameters")$b,
    eblocal_est = ebl$est,
    probmap_expected = pm$expCount, probmap_relrisk = pm$relRisk, probmap_p = pm$pmap,
    moran_I = unname(mt_r$estimate[1]), moran_EI = unname(mt_r$estimate[2]),
    moran_var_randomisation = unname(mt_r$estimate[3]),
    moran_p_randomisation_two_sided = mt_r$p.value,
    moran_var_normality = unname(mt_n$estimate[3]),
    moran_p_normality_greater = mt_n$p.value,
    eb_z = z,
    ebimoran_I = unname(ebi$statistic),
    ebimoran_p_greater_seed1 = ebi$p.value,
    local_moran_Ii = unname(lm[, "Ii"]), local_moran_E = unname(lm[, "E.Ii"]),
    local_moran_var = unname(lm[, "Var.Ii"]), local_moran_z = unname(lm[, "Z.Ii"]),
    local_moran_p_two_sided = unname(lm[, 5]),
    gistar_z = as.numeric(gstar)
  )
}

edges <- function(nb) {
  from <- rep(seq_along(nb), card(nb))
  to <- unlist(lapply(nb, function(v) v[v > 0]))
  data.frame(from = from - 1L, to = to - 1L)
}

# --- auckland: 167 census area units, shapes without a CRS (km grid)
auck <- st_read(system.file("shapes/auckland.shp", package = "spData"), quiet = TRUE)
auck$area_id <- sprintf("AK%03d", seq_len(nrow(auck)))
nb_q <- poly2nb(auck, queen = TRUE)
nb_r <- poly2nb(auck, queen = FALSE)
out$auckland <- one(auck$M77_85, 9 * auck$Und5_81, nb_q, "auckland")
out$auckland$rook_card <- card(nb_r)
write.csv(edges(nb_q), "auckland_queen_edges.csv", row.names = FALSE)
write.csv(edges(nb_r), "auckland_rook_edges.csv", row.names = FALSE)
st_write(auck[, c("area_id", "M77_85", "Und5_81")], "auckland.geojson",
         delete_dsn = TRUE, quiet = TRUE, layer_options = "COORDINATE_PRECISION=3")

# --- NY8: 281 census tracts; the tests use R's queen neighbours (edges file) as a graph
ny <- st_read(system.file("shapes/NY8_utm18.shp", package = "spData"), quiet = TRUE)
nb_ny <- poly2nb(ny, queen = TRUE)
out$ny8 <- one(ny$Cases, ny$POP8, nb_ny, "ny8")
write.csv(edges(nb_ny), "ny8_queen_edges.csv", row.names = FALSE)
write.csv(data.frame(AREAKEY = ny$AREAKEY, Cases = ny$Cases, POP8 = ny$POP8, X = ny$X, Y = ny$Y),
          "ny8.csv", row.names = FALSE)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
