# Reference constants for tests/inference/psis.test.cpp, from the R package loo (Debian's
# r-cran-loo 2.5.1):
#   python3 make_draws.py /tmp/draws && Rscript psis.R /tmp/draws
# prints C++ initializers with 17 significant digits: k-hat, the tail length, the smoothed
# log-weights of the 3 largest and the 2 smallest log-ratios, at the first tail index, and the
# log-sum-exp of all smoothed log-weights.
suppressMessages(library(loo))
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "/tmp/draws"
read <- function(name) as.matrix(read.csv(file.path(dir, paste0(name, ".csv")), header = FALSE))[, 1]
f17 <- function(x) formatC(x, digits = 17, format = "g")
logsumexp <- function(x) max(x) + log(sum(exp(x - max(x))))
cat("// loo", as.character(packageVersion("loo")), "\n")
cat("// name, r_eff: k, tail length, {indices (0-based)}, {smoothed log-weights}, logsumexp\n")
for (setting in list(list("log_ratios_k03_1000", 1), list("log_ratios_k06_4000", 1),
                     list("log_ratios_k09_1000", 1), list("log_ratios_k03_1000", 0.5),
                     list("log_ratios_50", 1), list("log_ratios_20", 1))) {
  name <- setting[[1]]; r_eff <- setting[[2]]
  lr <- read(name)
  fit <- suppressWarnings(psis(lr, r_eff = r_eff))
  lw <- as.vector(fit$log_weights)
  ord <- order(lr)
  S <- length(lr)
  tail_len <- attr(fit, "tail_len")
  picks <- c(ord[S], ord[S - 1], ord[S - 2], ord[max(S - tail_len + 1, 1)], ord[1], ord[2])
  cat(sprintf("{\"%s\", %s, %s, %d, {%s}, {%s}, %s},\n", name, f17(r_eff), f17(fit$diagnostics$pareto_k),
              as.integer(tail_len), paste(picks - 1, collapse = ", "), paste(f17(lw[picks]), collapse = ", "),
              f17(logsumexp(lw))))
}
cat("// gpdfit (wip = TRUE, min_grid_pts = 30) of the exceedances 1..20 of log_ratios_k06_4000",
    "over its 21st largest value: k, sigma\n")
lr <- sort(read("log_ratios_k06_4000"), decreasing = TRUE)
x <- sort(exp(lr[1:20]) - exp(lr[21]))
fit <- loo::gpdfit(x)
cat(f17(fit$k), ",", f17(fit$sigma), "\n")
