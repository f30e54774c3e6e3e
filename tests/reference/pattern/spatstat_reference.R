# Reference values for geo_stunting's point-pattern statistics, from spatstat.
# Run from the repository root:
#   Rscript tests/reference/pattern/spatstat_reference.R
# Reads fixture_points.csv and fixture_window.wkt (made by make_fixture.py) and
# writes spatstat_reference.json. spatstat 3.0-x (spatstat.explore 3.0-x).
suppressMessages({
  library(spatstat)
  library(jsonlite)
})
here <- "tests/reference/pattern"
pts <- read.csv(file.path(here, "fixture_points.csv"), stringsAsFactors = FALSE)
wkt <- readLines(file.path(here, "fixture_window.wkt"))

# parse "POLYGON ((x y, ...), (x y, ...))" into spatstat's polygon list
rings <- regmatches(wkt, gregexpr("\\(([^()]+)\\)", wkt))[[1]]
polys <- lapply(rings, function(ring) {
  ring <- gsub("[()]", "", ring)
  xy <- do.call(rbind, lapply(strsplit(strsplit(ring, ",")[[1]], " "), function(p) {
    as.numeric(p[nzchar(p)])
  }))
  xy <- xy[-nrow(xy), , drop = FALSE]
  list(x = xy[, 1], y = xy[, 2])
})
# spatstat wants the outer boundary anticlockwise and holes clockwise
signed_area <- function(p) 0.5 * sum(p$x * c(p$y[-1], p$y[1]) - c(p$x[-1], p$x[1]) * p$y)
for (k in seq_along(polys)) {
  clockwise <- signed_area(polys[[k]]) < 0
  if ((k == 1) == clockwise) polys[[k]] <- lapply(polys[[k]], rev)
}
W <- owin(poly = polys, check = TRUE)
R <- owin(xrange = range(polys[[1]]$x), yrange = range(polys[[1]]$y))

pattern <- function(sel, win) ppp(pts$x[sel], pts$y[sel], window = win, check = FALSE)
sets <- list(
  all = rep(TRUE, nrow(pts)),
  cases = pts$status == "case",
  controls = pts$status == "control"
)

out <- list(
  spatstat = as.character(packageVersion("spatstat.explore")),
  window_area = area(W),
  rect_area = area(R)
)
for (name in names(sets)) {
  X <- pattern(sets[[name]], W)
  XR <- pattern(sets[[name]], R)
  # every 8th value of spatstat's default r grids (keeps this file small)
  rK <- Kest(X, correction = "none")$r[seq(1, 513, by = 8)]
  rG <- Gest(X, correction = "none")$r[seq(1, 513, by = 8)]
  K <- Kest(X, r = rK, correction = c("border", "isotropic", "translate", "none"))
  G <- Gest(X, r = rG, correction = c("km", "rs", "han", "none"))
  L <- Lest(X, r = rK, correction = "isotropic")
  # exact translation weights (spatstat's Kest uses a pixel approximation)
  close <- closepairs(X, max(K$r), what = "all")
  wt <- edge.Trans(dx = close$dx, dy = close$dy, W = W, paired = TRUE, exact = TRUE)
  breaks <- c(-K$r[2], K$r)
  Ktrans_exact <- cumsum(whist(close$d, breaks, wt)) / (npoints(X) * (npoints(X) - 1) / area(W))
  # the rectangle as a rectangle (Kest's Krect engine) and as a polygon
  rR <- Kest(XR, correction = "none")$r[seq(1, 513, by = 8)]
  KR <- Kest(XR, r = rR, correction = c("border", "isotropic", "translate"))
  KRP <- Kest(pattern(sets[[name]], owin(poly = list(x = R$xrange[c(1, 2, 2, 1)],
                                                     y = R$yrange[c(1, 1, 2, 2)]))),
              r = rR, correction = c("border", "isotropic"))
  ce <- clarkevans(X, correction = c("none", "cdf"))
  ceR <- clarkevans(XR, correction = c("none", "Donnelly", "cdf"))
  z <- clarkevans.test(X, correction = "none", alternative = "two.sided")
  out[[name]] <- list(
    n = npoints(X),
    nndist = nndist(X),
    bdist = bdist.points(X),
    K = list(r = K$r, iso = K$iso, trans = K$trans, trans_exact = Ktrans_exact,
             border = K$border, un = K$un, theo = K$theo),
    L = list(r = L$r, iso = L$iso),
    G = list(r = G$r, km = G$km, rs = G$rs, han = G$han, raw = G$raw),
    K_rect = list(r = KR$r, iso = KR$iso, trans = KR$trans, border = KR$border,
                  border_polygon = KRP$border, iso_polygon = KRP$iso),
    clarkevans = list(naive = unname(ce["naive"]), cdf = unname(ce["cdf"]),
                      z_p_value = z$p.value),
    clarkevans_rect = list(naive = unname(ceR["naive"]), Donnelly = unname(ceR["Donnelly"]),
                           cdf = unname(ceR["cdf"]))
  )
}
write_json(out, file.path(here, "spatstat_reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = FALSE)
