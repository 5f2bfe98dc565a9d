#!/usr/bin/env python3
"""High-precision references for tests/inference/gauss_hermite.test.cpp (mpmath, 40 digits).

1. Gauss-Hermite nodes and weights for n = 5, 20 and 100 (a few of each): mpmath's own
   Newton-polished roots of H_n, weights 2^(n-1) n! sqrt(pi) / (n^2 H_{n-1}(x)^2).
2. E[sigmoid(mu + sigma Z)] and Var[sigmoid(mu + sigma Z)], Z ~ N(0, 1), by mpmath.quad.
Usage: python3 gauss_hermite.py
"""
import mpmath as mp

mp.mp.dps = 40


def hermite_rule(n):
    # Roots by Newton from mpmath's polyroots would be slow for n = 100; use the classical
    # asymptotic start and Newton on the recurrence in 40-digit arithmetic (converges to all
    # digits; checked by the residual below).
    def h(x):
        p0, p1 = mp.mpf(0), mp.pi ** mp.mpf(-0.25)
        for j in range(n):
            p0, p1 = p1, x * mp.sqrt(mp.mpf(2) / (j + 1)) * p1 - mp.sqrt(mp.mpf(j) / (j + 1)) * p0
        return p1, p0  # orthonormal H_n, H_{n-1}

    nodes, weights = [], []
    # Starting guesses from the double-precision eigenvalues of the Jacobi matrix.
    jacobi = mp.matrix(n, n)
    for j in range(1, n):
        jacobi[j, j - 1] = jacobi[j - 1, j] = mp.sqrt(mp.mpf(j) / 2)
    eigenvalues = mp.eigsy(jacobi, eigvals_only=True)
    for start in sorted(eigenvalues):
        x = mp.mpf(start)
        for _ in range(100):
            value, previous = h(x)
            step = value / (mp.sqrt(2 * n) * previous)
            x -= step
            if abs(step) < mp.mpf(10) ** -38 * max(1, abs(x)):
                break
        value, previous = h(x)
        nodes.append(x)
        weights.append(2 / (mp.sqrt(2 * n) * previous) ** 2)
    return nodes, weights


def sigmoid_moments(mu, sigma):
    density = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
    f = lambda z: 1 / (1 + mp.exp(-(mu + sigma * z)))
    mean = mp.quad(lambda z: f(z) * density(z), [-mp.inf, -5, 0, 5, mp.inf])
    second = mp.quad(lambda z: (f(z) - mean) ** 2 * density(z), [-mp.inf, -5, 0, 5, mp.inf])
    return mean, second


if __name__ == "__main__":
    for n in (5, 20, 100):
        nodes, weights = hermite_rule(n)
        print(f"n = {n}: sum of weights - sqrt(pi) = {mp.nstr(sum(weights) - mp.sqrt(mp.pi), 5)}")
        for i in sorted({0, 1, n // 2, n - 1}):
            print(f"  node[{i}] = {mp.nstr(nodes[i], 20)}  weight[{i}] = {mp.nstr(weights[i], 20)}")
    for mu, sigma in ((0.3, 0.5), (-1.2, 1.0), (0.8, 1.5), (0.0, 3.0)):
        mean, variance = sigmoid_moments(mp.mpf(mu), mp.mpf(sigma))
        print(f"sigmoid mu = {mu}, sigma = {sigma}: mean {mp.nstr(mean, 20)} variance {mp.nstr(variance, 20)}")
