"""Seeded (gold, answer) pairs in the forms maths datasets and models write, for the differential
fuzzer (tests/test_answer_fuzz.py) and the overhead benchmark's fuzzer-mix set.

Each problem is one value written several ways, right and wrong (``variants``); a pair takes its
gold and its answer from the same list, so both directions occur (a decimal gold with a fraction
answer and the other way round). A few answers come from another problem, as a policy's off-topic
answer would. Nothing here labels a pair: the fuzzer asks math-verify.

Example:
    >>> pairs = fuzz_pairs(4, seed=0)
    >>> len(pairs), all(isinstance(g, str) and isinstance(a, str) for g, a in pairs)
    (4, True)
"""

from __future__ import annotations

import random
from math import gcd


def _frac(rng, lo=1, hi=30):
    b = rng.randint(2, hi)
    a = rng.randint(lo, hi)
    while gcd(a, b) != 1:
        a = rng.randint(lo, hi)
    return a, b


def _dec(x: float, places: int) -> str:
    return f"{x:.{places}f}"


def integers(rng):
    a = rng.choice([rng.randint(0, 20), rng.randint(21, 999), rng.randint(1000, 10**7), 3628800])
    s = -1 if rng.random() < 0.2 else 1
    v = s * a
    sep = f"{v:,}"
    return [str(v), f"{v}.0", f"{v}.00", sep, sep.replace(",", "{,}"), sep.replace(",", "\\!,"),
            sep.replace(",", " "), sep.replace(",", "\\,"), f"\\frac{{{2 * v}}}{{2}}", f"+{a}" if s > 0 else f"-{a}",
            str(v + 1), str(v - 1), f"{v}.000001", f"{v - 1}.999999", f"{v}.0000001", f"{v + 1}.0", str(10 * v),
            f"{v}.5", f"-{a}" if s > 0 else str(a)]


def separated(rng):
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    x, y = rng.randint(2, 20), rng.randint(10, 99)
    return [str(a * b), f"{a} {b}", f"{a}\\ {b}", f"{a}{b}", f"{a}\\cdot{b}", f"{a} \\times {b}", f"{a}^{b}{a}",
            f"{a}^{{{b}{a}}}", str(a ** (10 * b + a)) if a ** (10 * b + a) < 10**40 else str(a), f"10^{x}",
            f"10^{{{x}}}", "0", f"{x},{y}", f"{x}.{y}", f"{y}, {x}", f"{x}, {y}", f"0,{y}0", f"0.{y}0"]


def decimals(rng):
    a, b = rng.randint(0, 99), rng.choice([5, 25, 75, 125, 2, 4, 1])
    s = "-" if rng.random() < 0.2 else ""
    d = f"{s}{a}.{b}"
    v = float(d)
    num, den = int(round(v * 1000)), 1000
    g = gcd(num, den)
    return [d, d + "0", f"{s}{a},{b}", f"\\frac{{{num // g}}}{{{den // g}}}", f"{num // g}/{den // g}",
            _dec(v + 1e-7, 7), _dec(v + 2e-6, 6), _dec(v, 1), _dec(v + 0.01, 2), f"{s}{a}", f"{s}{a}.{b}1",
            f"{s}.{b}" if a == 0 else d]


def fractions(rng):
    a, b = _frac(rng)
    k = rng.randint(2, 5)
    v = a / b
    return [f"\\frac{{{a}}}{{{b}}}", f"\\dfrac{{{a}}}{{{b}}}", f"\\tfrac{{{a}}}{{{b}}}", f"{a}/{b}",
            f"\\frac{{{k * a}}}{{{k * b}}}", f"\\frac{{{b}}}{{{a}}}", f"\\frac{{{a + 1}}}{{{b}}}", f"-\\frac{{{a}}}{{{b}}}",
            f"\\frac{{-{a}}}{{{b}}}", f"\\frac{a % 10}{b % 10}" if b % 10 > 1 else f"\\frac{{{a}}}{{{b}}}",
            _dec(v, 6), _dec(v, 7), _dec(v, 3), _dec(v, 12), f"{a}\\div{b}", f"{a}:{b}"]


def mixed_numbers(rng):
    w = rng.randint(1, 9)
    a, b = _frac(rng, 1, 9)
    if a >= b:
        a, b = b - 1 if b > 2 else 1, b
    a = max(a, 1)
    n = w * b + a
    return [f"{w}\\frac{{{a}}}{{{b}}}", f"{w} \\frac{{{a}}}{{{b}}}", f"{w}\\tfrac{a}{b}", f"{w}\\frac{a}{b}",
            f"\\frac{{{n}}}{{{b}}}", f"{n}/{b}", f"{w} {a}/{b}", f"\\frac{{{a}}}{{{b}}}", f"\\frac{{{w * a}}}{{{b}}}",
            _dec(n / b, 6), f"{w}+\\frac{{{a}}}{{{b}}}", f"{w}\\cdot\\frac{{{a}}}{{{b}}}"]


def radicals(rng):
    a, b = rng.randint(1, 9), rng.choice([2, 3, 5, 6, 7, 10, 11])
    c = rng.randint(2, 9)
    v = a * b ** 0.5
    return [f"{a}\\sqrt{{{b}}}", f"{a} \\sqrt{{{b}}}", f"{a}\\sqrt{b}", f"\\sqrt{{{a * a * b}}}", f"{a}\\cdot\\sqrt{{{b}}}",
            f"\\sqrt{{{b}}}{a}" if a > 1 else f"\\sqrt{{{b}}}", f"{a}\\sqrt{{{b + 1}}}", f"{a * b}", f"{a}\\sqrt[3]{{{b}}}",
            f"\\frac{{{a}\\sqrt{{{b}}}}}{{{c}}}", f"\\frac{{{a}}}{{\\sqrt{{{b}}}}}", f"\\frac{{{a}\\sqrt{{{b}}}}}{{{b}}}",
            _dec(v, 6), _dec(v, 4), _dec(v, 2), f"{b}^{{1/2}}" if a == 1 else f"{a}{b}^{{1/2}}",
            f"\\sqrt{{{c * c + 2 * c}+2\\sqrt{{{c}}}}}" if False else f"\\sqrt{{{b}+2\\sqrt{{{b - 1}}}}}",
            f"1+\\sqrt{{{b - 1}}}"]


def constants(rng):
    a, b = rng.randint(1, 9), rng.randint(2, 9)
    p = 3.141592653589793 * a / b
    return [f"\\frac{{{a}\\pi}}{{{b}}}", f"\\frac{{{a}}}{{{b}}}\\pi", f"{a}\\pi/{b}", f"\\pi\\frac{{{a}}}{{{b}}}",
            f"\\frac{{{a + 1}\\pi}}{{{b}}}", f"{a}\\pi", f"\\pi {a}", f"{a} \\cdot \\pi", _dec(p, 6), _dec(p, 5),
            _dec(p, 2), f"{a}e", f"e^{{{a}}}", f"{a}\\mathrm{{e}}", f"\\frac{{{a}}}{{e}}", f"e^{a}",
            _dec(a * 2.718281828459045, 6), "\\pi", "3.14159", "3.141593", "\\frac{22}{7}"]


def percents(rng):
    a = rng.choice([rng.randint(1, 99), rng.randint(1, 99) + 0.5])
    s = f"{a:g}"
    return [f"{s}\\%", s, f"{s}%", f"{s} \\%", f"{s}\\text{{ percent}}", f"{s} percent", _dec(a / 100, 4).rstrip("0"),
            f"\\frac{{{s}}}{{100}}", f"{a + 1:g}\\%", f"{a / 100:g}\\%", str(a * 10)]


def degrees(rng):
    a = rng.choice([30, 45, 60, 90, 120, 135, 150, rng.randint(1, 359)])
    g = gcd(a, 180)
    return [f"{a}^\\circ", f"{a}^{{\\circ}}", str(a), f"{a}°", f"{a} ^\\circ", f"{a}\\text{{ degrees}}",
            f"\\frac{{{a // g}\\pi}}{{{180 // g}}}", f"{a + 1}^\\circ", f"{180 - a}^\\circ", f"{a}\\degree"]


UNITS = ["cm", "m", "km", "s", "kg", "g", "mph", "units", "inches", "feet", "dollars", "cm^2", "m^3", "hours"]


def units(rng):
    a = rng.randint(1, 500)
    u, w = rng.choice(UNITS), rng.choice(UNITS)
    return [f"{a} \\text{{ {u}}}", f"{a}\\text{{{u}}}", f"{a} {u}", f"{a}\\mathrm{{{u}}}", f"{a}\\,\\mathrm{{{u}}}", str(a),
            f"\\${a}", f"{a} \\text{{ {w}}}", f"{a + 1} {u}", f"{a + 1}\\text{{ {u}}}", f"{a}{u}", f"{a}\\ {u}"]


def scientific(rng):
    m, e = rng.randint(11, 99), rng.randint(2, 9)
    v = m * 10 ** (e - 1)
    return [f"{m / 10:g}\\times10^{{{e}}}", f"{m / 10:g} \\times 10^{e}", str(v), f"{m / 10:g}\\cdot 10^{{{e}}}",
            f"{m}\\times 10^{{{e - 1}}}", f"{m / 10:g}e{e}", f"{m / 10:g}E{e}", f"{(m + 1) / 10:g}\\times10^{{{e}}}",
            f"{m / 10:g}\\times10^{{{e + 1}}}", f"{v:,}", f"10^{{{e}}}"]


def intervals(rng):
    a = rng.randint(-9, 9)
    b = a + rng.randint(1, 9)
    return [f"[{a}, {b})", f"[{a},{b})", f"\\left[{a}, {b}\\right)", f"({a}, {b}]", f"[{a}, {b}]", f"({a}, {b})",
            f"(-\\infty, {a}]", f"(-\\infty,{a}]", f"({a}, \\infty)", f"[{a}, \\infty)", f"x \\ge {a}",
            f"{a} \\le x < {b}", f"[{a}, {b}) \\cup ({b}, {b + 1}]"]


def sets(rng):
    a, b = rng.sample(range(-9, 20), 2)
    c = rng.randint(20, 30)
    return [f"\\{{{a}, {b}\\}}", f"\\{{{b}, {a}\\}}", f"{a}, {b}", f"{b}, {a}", f"{a},{b}", f"\\{{{a}\\}}", str(a),
            f"\\{{{a}, {b}, {c}\\}}", f"{a}, {b}, {c}", f"({a}, {b})", f"\\{{{a}, {c}\\}}", f"{a} \\text{{ and }} {b}",
            f"x = {a}, x = {b}", f"{a}; {b}", "\\emptyset", "\\{\\}"]


def tuples(rng):
    a, b = rng.sample(range(-9, 20), 2)
    c = rng.randint(-9, 9)
    return [f"({a}, {b})", f"({a},{b})", f"\\left({a}, {b}\\right)", f"({b}, {a})", f"{a}, {b}", f"({a}, {b}, {c})",
            f"[{a}, {b}]", f"\\langle {a}, {b} \\rangle", f"({a}, {b + 1})", f"(x, y) = ({a}, {b})",
            f"\\left( \\frac{{{2 * a}}}{{2}}, {b} \\right)", f"({a}.0, {b})"]


def matrices(rng):
    a, b, c, d = (rng.randint(-9, 9) for _ in range(4))
    m = f"{a} & {b} \\\\ {c} & {d}"
    return [f"\\begin{{pmatrix}} {m} \\end{{pmatrix}}", f"\\begin{{bmatrix}} {m} \\end{{bmatrix}}",
            f"\\begin{{pmatrix}}{a}&{b}\\\\{c}&{d}\\end{{pmatrix}}",
            f"\\begin{{pmatrix}} {b} & {a} \\\\ {c} & {d} \\end{{pmatrix}}",
            f"\\begin{{pmatrix}} {a} \\\\ {b} \\end{{pmatrix}}", f"\\begin{{pmatrix}} {a} & {b} \\end{{pmatrix}}",
            f"({a}, {b})"]


def equations(rng):
    a, b = rng.randint(1, 9), rng.randint(-9, 9)
    return [f"x = {a}", str(a), f"x={a}", f"{a} = x", f"x = {a + 1}", f"y = {a}x + {b}", f"y={a}x+{b}",
            f"{a}x + {b}", f"y = {b} + {a}x", f"y = {a}x - {b}", f"{2 * a}x = {2 * b}", f"x^2 = {a * a}",
            f"x = \\pm {a}", f"x = {a}, x = -{a}", f"f(x) = {a}x+{b}", f"y - {b} = {a}x"]


def complex_numbers(rng):
    a, b = rng.randint(-9, 9), rng.randint(1, 9)
    sa = "" if a == 0 else f"{a}"
    return [f"{sa}+{b}i", f"{b}i+{sa}" if a else f"{b}i", f"{sa} + {b} i", f"{sa}-{b}i", f"{sa}+{b}j",
            f"{sa}+{b}\\mathrm{{i}}", f"{sa}+i{b}", f"{sa}+{b + 1}i", f"({sa}+{b}i)", str(a), f"{b}i"]


def bases(rng):
    n = rng.randint(2, 200)
    base = rng.choice([2, 8, 16, 5, 3])
    digits = ""
    x = n
    while x:
        digits = "0123456789ABCDEF"[x % base] + digits
        x //= base
    return [f"{digits}_{{{base}}}", f"{digits}_{base}" if len(str(base)) == 1 else digits, digits, str(n),
            f"{digits}_{{{base + 1}}}", f"({digits})_{{{base}}}", f"{n}_{{10}}", f"\\text{{{digits}}}_{{{base}}}"]


def choices(rng):
    c, d = rng.sample("ABCDE", 2)
    return [c, f"({c})", f"\\text{{({c})}}", f"\\textbf{{({c})}}", f"\\mathrm{{({c})}}", c.lower(), f"{c})",
            f"\\text{{{c}}}", d, f"({d})", f"\\text{{({c}) }} 5", f"{c}, {d}"]


TEXT = [("odd", "even"), ("Yes", "No"), ("yes", "no"), ("True", "False"), ("Monday", "Tuesday"), ("north", "south"),
        ("Alice", "Bob"), ("\\text{increasing}", "\\text{decreasing}")]


def text(rng):
    r, w = rng.choice(TEXT)
    plain = r.replace("\\text{", "").rstrip("}")
    return [r, plain, f"\\text{{{plain}}}", plain.lower(), plain.upper(), f"\\textbf{{{plain}}}", w,
            f"\\text{{ {plain} }}", f"\\mathrm{{{plain}}}", f"{plain}."]


def expressions(rng):
    a, b = rng.randint(1, 9), rng.randint(2, 9)
    v = rng.choice("xyntk")
    return [f"{a}+{b}{v}", f"{b}{v}+{a}", f"{a} + {b} {v}", f"{b}\\cdot {v} + {a}", f"{a}+{b + 1}{v}", f"{b}{v}",
            f"({v}+{a})^2", f"{v}^2+{2 * a}{v}+{a * a}", f"{v}^2+{a * a}", f"{v}^{b}", f"{v}^{{{b}}}", f"{v}^{b}{a}",
            f"\\sqrt{{{v}^2}}", v, f"|{v}|", f"\\frac{{{v}}}{{{b}}}", _dec(1 / b, 6) + v, f"{v}/{b}",
            f"\\frac{{{v}^2-{a * a}}}{{{v}-{a}}}", f"{v}+{a}", f"{v} y", f"y{v}", f"\\sqrt{{({v}-{a})^2}}",
            f"{v}-{a}", f"{a}-{v}", f"\\frac{{1}}{{{v}}}", f"{v}^{{-1}}", f"2^{v}\\cdot 2^{v}", f"4^{v}"]


KINDS = {f.__name__: f for f in (integers, separated, decimals, fractions, mixed_numbers, radicals, constants,
                                 percents, degrees, units, scientific, intervals, sets, tuples, matrices, equations,
                                 complex_numbers, bases, choices, text, expressions)}


def fuzz_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (gold, answer) pairs over every kind in :data:`KINDS`, in turn.

    The gold is the problem's first (canonical) form half the time, else any of its forms; the
    answer is any form of the same problem (9 in 10) or of the previous one (off topic).
    """
    rng = random.Random(seed)
    names = sorted(KINDS)
    pairs, previous = [], ["0"]
    for i in range(n):
        forms = KINDS[names[i % len(names)]](rng)
        gold = forms[0] if rng.random() < 0.5 else rng.choice(forms)
        answer = rng.choice(forms) if rng.random() < 0.9 else rng.choice(previous)
        pairs.append((gold, answer))
        previous = forms
    return pairs
