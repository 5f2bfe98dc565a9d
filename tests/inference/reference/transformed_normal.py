#!/usr/bin/env python3
"""References for tests/inference/transformed_normal.test.cpp (mpmath, 40 digits).

Mean and variance of logistic(mu + sigma Z), Z ~ N(0, 1), by mpmath.quad split at the
logistic's centre and a few multiples of sigma, each checked against a second quadrature with
other breakpoints (tanh-sinh vs Gauss-Legendre); the two agree to 16 digits or the script stops.
Usage: python3 transformed_normal.py
"""
import mpmath as mp

mp.mp.dps = 40


def moments(mu, sigma, method):
    density = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
    f = lambda z: 1 / (1 + mp.exp(-(mu + sigma * z)))
    centre = -mu / sigma
    points = sorted(set([-mp.inf, -9, -4, -1, 0, 1, 4, 9, mp.inf] + [centre + k / sigma for k in (-20, -5, 0, 5, 20)]))
    mean = mp.quad(lambda z: f(z) * density(z), points, method=method)
    variance = mp.quad(lambda z: (f(z) - mean) ** 2 * density(z), points, method=method)
    return mean, variance


for mu, sigma in [(0.7, 1e-6), (0.7, 0.01), (0.7, 0.3), (0.7, 1.0), (-3.0, 2.5), (0.7, 4.0), (0.7, 10.0), (0.7, 30.0), (0.7, 100.0), (5.0, 0.5), (-12.0, 1.0)]:
    a, b = moments(mp.mpf(mu), mp.mpf(sigma), "tanh-sinh")
    c, d = moments(mp.mpf(mu), mp.mpf(sigma), "gauss-legendre")
    assert abs(a - c) < mp.mpf(10) ** -16 * abs(a) and abs(b - d) < mp.mpf(10) ** -16 * abs(b), (mu, sigma, a - c, b - d)
    print("{%s, %s, %s, %s}," % (mu, sigma, mp.nstr(a, 20), mp.nstr(b, 20)))
