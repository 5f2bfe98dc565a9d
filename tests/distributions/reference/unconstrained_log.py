"""Reference values for tests/distributions/unconstrained_log.test.cpp, in 60-digit decimal
arithmetic (Python's standard decimal module; no SciPy needed). Run: python3 unconstrained_log.py

Model A: p ~ Beta(2, 3) on the logit scale (x = sigmoid(u), log|J| = log x + log(1 - x)),
         y ~ Bernoulli(p) with y = [1, 0, 1, 1, 0, 1] (4 ones, 2 zeros):
         logp(u) = log 12 + (2 + 4) log sigmoid(u) + (3 + 2) log sigmoid(-u)
Model B: p ~ Beta(2, 3) on the logit scale, k ~ Binomial(10, p) with k = [3, 7]:
         logp(u) = log 12 + 2 log 120 + (2 + 10) log sigmoid(u) + (3 + 10) log sigmoid(-u)
Model C: q ~ Uniform(0.5, 1) on the logit scale (x = 0.5 + 0.5 sigmoid(u), log|J| = log 0.5 +
         log sigmoid(u) + log sigmoid(-u)), y ~ Bernoulli(q) with y = [0, 0, 1]:
         logp(u) = log 2 (uniform density) + log 0.5 + log sig(u) + log sig(-u)
                   + 2 log(1 - q) + log q,   1 - q = 0.5 sigmoid(-u),  q = 0.5 (1 + sigmoid(u))
The derivative of log sigmoid(u) is sigmoid(-u).
"""
from decimal import Decimal as D, getcontext

getcontext().prec = 60


def sigmoid(u):
    return 1 / (1 + (-u).exp())


def log_sigmoid(u):
    return -((1 + (-u).exp()).ln())


def model_a(u):
    value = D(12).ln() + 6 * log_sigmoid(u) + 5 * log_sigmoid(-u)
    grad = 6 * sigmoid(-u) - 5 * sigmoid(u)
    return value, grad


def model_b(u):
    value = D(12).ln() + 2 * D(120).ln() + 12 * log_sigmoid(u) + 13 * log_sigmoid(-u)
    grad = 12 * sigmoid(-u) - 13 * sigmoid(u)
    return value, grad


def model_c(u):
    half = D(1) / 2
    q = half * (1 + sigmoid(u))
    value = D(2).ln() + half.ln() + log_sigmoid(u) + log_sigmoid(-u) + 2 * (half.ln() + log_sigmoid(-u)) + q.ln()
    # d/du: sigma(-u) - sigma(u) - 2 sigma(u) + (0.5 sigma(u) sigma(-u)) / q
    grad = sigmoid(-u) - sigmoid(u) - 2 * sigmoid(u) + half * sigmoid(u) * sigmoid(-u) / q
    return value, grad


for name, model in (("bernoulli", model_a), ("binomial", model_b), ("upper_interval", model_c)):
    for u in (-700, -37, -30, 0, 30, 37, 700):
        value, grad = model(D(u))
        print(f"{name:15s} u={u:5d}  {{{u}.0, {float(value)!r}, {float(grad)!r}}},")
