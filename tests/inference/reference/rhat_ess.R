# Reference constants for tests/inference/rhat.test.cpp and ess.test.cpp, from the R package
# posterior (Debian's r-cran-posterior 1.4.0):
#   python3 make_draws.py /tmp/draws && Rscript rhat_ess.R /tmp/draws
# prints C++ initializers with 17 significant digits.
suppressMessages(library(posterior))
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "/tmp/draws"
read <- function(name) as.matrix(read.csv(file.path(dir, paste0(name, ".csv")), header = FALSE))
f17 <- function(x) formatC(x, digits = 17, format = "g")
cat("// posterior", as.character(packageVersion("posterior")), "\n")

cat("// name: rhat, rhat_basic, ess_bulk, ess_basic, mcse_mean\n")
for (name in c("ar1_4x1000", "ar1_shifted_3x1003", "antithetic_1x2000", "heavy_2x501", "ties_4x250")) {
  x <- read(name)
  values <- c(rhat(x), rhat_basic(x), ess_bulk(x), ess_basic(x), mcse_mean(x))
  cat(sprintf("{\"%s\", %s},\n", name, paste(f17(values), collapse = ", ")))
}

cat("// iterates_3000x3, per parameter: the last windows * floor(window / windows) iterates as",
    "windows chains\n// window, windows, parameter: rhat, rhat_basic\n")
it <- read("iterates_3000x3")
T <- nrow(it)
for (setting in list(c(2000, 1), c(2000, 4), c(999, 2), c(3000, 3))) {
  W <- setting[1]; K <- setting[2]; L <- floor(W / K)
  for (p in 1:ncol(it)) {
    chains <- matrix(it[(T - K * L + 1):T, p], nrow = L, ncol = K)
    cat(sprintf("{%d, %d, %d, %s, %s},\n", W, K, p - 1, f17(rhat(chains)), f17(rhat_basic(chains))))
  }
}

cat("// iterates_3000x3, the last 2000 iterates of each parameter as one chain: ess_bulk, ess_basic, mcse_mean\n")
for (p in 1:ncol(it)) {
  x <- matrix(it[(T - 1999):T, p], ncol = 1)
  cat(sprintf("{%d, %s, %s, %s},\n", p - 1, f17(ess_bulk(x)), f17(ess_basic(x)), f17(mcse_mean(x))))
}

cat("// autocovariance of the first chain of ar1_4x1000 at lags 0, 1, 2, 10, 100, 999\n")
ac <- posterior:::autocovariance(read("ar1_4x1000")[, 1])
cat(paste(f17(ac[c(1, 2, 3, 11, 101, 1000)]), collapse = ", "), "\n")

cat("// qnorm at p = 1e-300, 1e-20, 1e-10, 0.001, 0.075, 0.3, 0.5, 0.7, 0.925, 0.999, 1 - 1e-10\n")
cat(paste(f17(qnorm(c(1e-300, 1e-20, 1e-10, 0.001, 0.075, 0.3, 0.5, 0.7, 0.925, 0.999, 1 - 1e-10))), collapse = ", "), "\n")
