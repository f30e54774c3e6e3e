# Reference values for tests/test_relative_risk.py, from spatstat.
# Run from the repository root:  Rscript tests/reference/relrisk/relrisk.R
# Writes tests/reference/relrisk/relrisk.json.
suppressMessages(library(spatstat))
library(jsonlite)

grave <- read.csv("tests/reference/grave/grave_points.csv")
# a square window around the points, so that pixels are square
cx <- mean(range(grave$x)); cy <- mean(range(grave$y))
half <- max(diff(range(grave$x)), diff(range(grave$y))) / 2 + 300
W <- owin(c(cx - half, cx + half), c(cy - half, cy + half))
X <- ppp(grave$x, grave$y, window = W,
         marks = factor(grave$status, levels = c("control", "case")))

bw <- bw.relrisk(X, method = "likelihood")
sigma <- as.numeric(bw)

ny <- 64; nx <- 64
p_uniform <- relrisk(X, sigma = sigma, dimyx = c(ny, nx), casecontrol = TRUE, case = "case")
p_diggle <- relrisk(X, sigma = sigma, dimyx = c(ny, nx), casecontrol = TRUE, case = "case",
                    diggle = TRUE)

# the same probabilities from exact kernel sums at the pixel centres (densityfun)
Y <- split(X)
centres <- expand.grid(x = p_uniform$xcol, y = p_uniform$yrow)  # x varies fastest
exact <- function(diggle) {
  case <- densityfun(Y$case, sigma = sigma, edge = TRUE, diggle = diggle)(centres$x, centres$y)
  control <- densityfun(Y$control, sigma = sigma, edge = TRUE, diggle = diggle)(centres$x, centres$y)
  matrix(case / (case + control), nrow = ny, ncol = nx, byrow = TRUE)
}

out <- list(
  spatstat = as.character(packageVersion("spatstat")),
  spatstat_explore = as.character(packageVersion("spatstat.explore")),
  window = list(xrange = W$xrange, yrange = W$yrange),
  bw = list(sigma = sigma, h = attr(bw, "h"), cv = attr(bw, "cv")),
  pixels = list(
    xcol = p_uniform$xcol, yrow = p_uniform$yrow,
    # rows are y (bottom to top), columns are x
    p_case_uniform = p_uniform$v, p_case_diggle = p_diggle$v,
    exact_p_case_uniform = exact(FALSE), exact_p_case_diggle = exact(TRUE)
  )
)
write_json(out, "tests/reference/relrisk/relrisk.json", digits = NA, matrix = "rowmajor",
           auto_unbox = TRUE, pretty = FALSE)
