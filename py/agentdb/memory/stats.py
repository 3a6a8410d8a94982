"""Welch's two-sample t-test, in plain Python (no scipy in the browser): the p-value from the
Student t distribution via the regularised incomplete beta function (Lentz's continued
fraction), and its inverse by bisection for confidence intervals."""
import math


def _beta_fraction(a, b, x):
    """The continued fraction of I_x(a, b), evaluated with the modified Lentz method."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 400):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def betainc(a, b, x):
    """The regularised incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):           # the fraction converges fast on this side
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_critical(df, level=0.95):
    """The t with P(|T| <= t) = level, by bisection on the two-sided p-value."""
    lo, hi = 0.0, 1.0
    while t_two_sided_p(hi, df) > 1.0 - level:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if t_two_sided_p(mid, df) > 1.0 - level else (lo, mid)
    return (lo + hi) / 2.0


def _mean_var(xs):
    m = math.fsum(xs) / len(xs)
    return m, math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0


def welch(treatment, control):
    """{"uplift", "p_value", "ci95", "df", "mean_treatment", "mean_control"} for two samples.
    Fewer than two observations in a group, or no spread at all, leaves the p-value at 1 (no
    evidence) unless the means differ with zero spread (then 0)."""
    mt, vt = _mean_var(treatment)
    mc, vc = _mean_var(control)
    uplift = mt - mc
    out = {"uplift": uplift, "mean_treatment": mt, "mean_control": mc, "p_value": 1.0, "ci95": None, "df": None}
    if len(treatment) < 2 or len(control) < 2:
        return out
    se2 = vt / len(treatment) + vc / len(control)
    if se2 == 0.0:
        out["p_value"] = 0.0 if uplift != 0.0 else 1.0
        out["ci95"] = [uplift, uplift]
        return out
    df = se2 ** 2 / ((vt / len(treatment)) ** 2 / (len(treatment) - 1) + (vc / len(control)) ** 2 / (len(control) - 1))
    se = math.sqrt(se2)
    half = t_critical(df) * se
    out.update(p_value=t_two_sided_p(uplift / se, df), ci95=[uplift - half, uplift + half], df=df)
    return out
