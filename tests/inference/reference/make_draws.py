#!/usr/bin/env python3
"""Writes the deterministic data sets behind the diagnostics' reference constants as CSV
(17 significant digits, exact round trip), for rhat_ess.R and psis.R to read.

The generator uses only integer arithmetic and IEEE additions/multiplications/divisions, so
tests/inference/reference/draws.hpp reproduces every value bit for bit in C++:
  splitmix64 -> uniform u = (z >> 11) * 2^-53
  normal-like e = (u_1 + ... + u_12) - 6          (Irwin-Hall, summed left to right)
  heavy-tailed e = (u_1 - 0.5) / (u_2 + 0.01)     (ratio of uniforms: Cauchy-like tails)
  AR(1) x_0 = e_0, x_t = phi * x_{t-1} + e_t, plus a per-chain offset.
Usage: python3 make_draws.py OUTDIR
"""
import sys

MASK = (1 << 64) - 1


class Stream:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next_u64() >> 11) * (1.0 / 9007199254740992.0)

    def normal_like(self):
        total = 0.0
        for _ in range(12):
            total += self.uniform()
        return total - 6.0

    def heavy(self):
        a = self.uniform()
        b = self.uniform()
        return (a - 0.5) / (b + 0.01)


def ar1_chains(seed, chains, iterations, phi, offset_step, heavy=False):
    """iterations x chains, chain c from stream seed * 1000 + c."""
    out = []
    for c in range(chains):
        s = Stream(seed * 1000 + c)
        x = []
        previous = 0.0
        for t in range(iterations):
            e = s.heavy() if heavy else s.normal_like()
            previous = e if t == 0 else phi * previous + e
            x.append(previous + offset_step * c)
        out.append(x)
    return [[out[c][t] for c in range(chains)] for t in range(iterations)]


def rounded(rows, scale):
    """Ties: values rounded to multiples of 1/scale (round half away from zero is not needed:
    Python's round-half-even and C++'s std::nearbyint agree, both round half to even)."""
    return [[round(v * scale) / scale for v in row] for row in rows]


def iterates(seed, length, parameters):
    """An optimisation-like sequence: parameter p decays towards p from 0 with rate 1/500 and
    jitters as AR(1) with phi = 0.7 and scale 0.05 * (p + 1)."""
    s = Stream(seed)
    rows = []
    noise = [0.0] * parameters
    level = [0.0] * parameters
    for t in range(length):
        row = []
        for p in range(parameters):
            noise[p] = 0.7 * noise[p] + 0.05 * (p + 1) * s.normal_like()
            level[p] = level[p] + (p - level[p]) / 500.0
            row.append(level[p] + noise[p])
        rows.append(row)
    return rows


def log_ratios(seed, draws, a):
    """a * theta^2 with theta normal-like: ratios with tail index k = 2a."""
    s = Stream(seed)
    out = []
    for _ in range(draws):
        theta = s.normal_like()
        out.append([a * theta * theta])
    return out


DATASETS = {
    "ar1_4x1000": lambda: ar1_chains(1, 4, 1000, 0.9, 0.0),
    "ar1_shifted_3x1003": lambda: ar1_chains(2, 3, 1003, 0.8, 0.15),
    "antithetic_1x2000": lambda: ar1_chains(3, 1, 2000, -0.6, 0.0),
    "heavy_2x501": lambda: ar1_chains(4, 2, 501, 0.5, 0.0, heavy=True),
    "ties_4x250": lambda: rounded(ar1_chains(5, 4, 250, 0.3, 0.0), 2.0),
    "iterates_3000x3": lambda: iterates(6, 3000, 3),
    "log_ratios_k03_1000": lambda: log_ratios(7, 1000, 0.15),
    "log_ratios_k06_4000": lambda: log_ratios(8, 4000, 0.3),
    "log_ratios_k09_1000": lambda: log_ratios(9, 1000, 0.45),
    "log_ratios_50": lambda: log_ratios(10, 50, 0.3),
    "log_ratios_20": lambda: log_ratios(11, 20, 0.3),
}

if __name__ == "__main__":
    outdir = sys.argv[1]
    for name, make in DATASETS.items():
        rows = make()
        with open(f"{outdir}/{name}.csv", "w") as f:
            for row in rows:
                f.write(",".join(repr(v) for v in row) + "\n")
        print(name, len(rows), "x", len(rows[0]), "first", repr(rows[0][0]), "last", repr(rows[-1][-1]))
