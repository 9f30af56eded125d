"""Reading math answers without sympy: extraction, screening and exact comparison.

Pure functions over strings; nothing here evaluates model output as code, and every function is
linear in its input (or bounded by :data:`MAX_ANSWER_CHARS`). :mod:`lead_lite.verifier` decides
verdicts with them and sends what they cannot decide to math-verify.

- :func:`extract_boxed`: the final ``\\boxed{}`` answer of a completion (several boxes written
  one after another, ``\\boxed{1}, \\boxed{2}``, count as one answer ``1, 2``).
- :func:`screen`: why an answer is too big or too deep for sympy (size, nesting, power towers,
  factorial chains, huge exponents), or None.
- :func:`compare`: CORRECT / WRONG / SAME (identical after normalisation) / None (undecided) for
  numbers, fractions, tuples, lists and sets of them, and expressions in integers, decimals,
  ``\\frac``, ``\\sqrt``, ``\\pi``, powers and single-letter variables.

The rules decide only where they agree with math-verify (``tests/test_answer_fuzz.py`` holds them
to it on thousands of pairs); a form whose reading is ambiguous is left undecided for
math-verify: a mixed number (``2\\frac{1}{3}``, ``3 1/2``), digits separated by a space (``2 3``,
``1 000``), an unbraced multi-digit exponent (``10^10``), units, percent, degrees, words, ``e``
and ``i``, a comma after a lone ``0`` (``0,5``).

Number rules (:func:`_plain_number`): a comma is a thousands separator when every group after
it has three digits and the first group is 1-3 digits that do not start with 0 (``12,345``,
``1{,}000``, ``11,\\!111``); otherwise commas separate list items (``1,2``, ``1,22``, ``10,20``).

Numeric approximations (:func:`_same_value`; the one rule of ``docs/answer_checking.md``): a
gold written with a decimal point accepts an answer that equals it after rounding both to
:data:`DECIMAL_GOLD_PLACES` decimal places; any other gold (integer, fraction, radical, pi)
needs an exact answer, to :data:`EXACT_GOLD_PLACES` places (``0.5`` is right for ``\\frac12``;
``0.333333`` for ``\\frac13`` and ``3.14159`` for ``\\pi`` are wrong). Where a difference is too
small to tell from rounding, math-verify (told the same places) decides.

Expressions are compared by value: exact rationals where no root, pi or variable occurs, else
floating point at two fixed points for the variables (relative tolerance 1e-9). Values that
come near zero, overflow, leave the reals, take roots of variables or grow past
:data:`MAX_EXACT_BITS` are left undecided, so the cost of every rule stays bounded.
"""

from __future__ import annotations

import enum
import math
import re
from fractions import Fraction

MAX_COMPLETION_CHARS = 65_536  # only the tail of a longer completion is searched (~16k tokens)
MAX_MERGED_BOXES = 32  # boxes in a row read as one answer
MAX_ANSWER_CHARS = 512  # a longer answer is pathological
MAX_NESTING = 12  # brackets of any kind inside one another
MAX_FACTORIALS = 2  # "!" signs in one answer (n!! is a double factorial; more is a chain)
MAX_EXPONENT_DIGITS = 6  # a numeric power's exponent literal (10^{999999} at most)
MAX_LITERAL_DIGITS = 40  # longer literals are left to math-verify
DECIMAL_GOLD_PLACES = 6  # a gold with a decimal point: equal after rounding to 6 places
EXACT_GOLD_PLACES = 12  # any other gold: equal to 12 places (exact for any answer a model writes)
FLOAT_RTOL = 1e-9  # two non-rational values
MAX_EXACT_BITS = 1024  # a larger exact numerator or denominator is left to math-verify
_MAX_MERGE_GAP = 60  # characters between two boxes of one answer
_WINDOW = 4096  # the tail searched first


class Outcome(enum.Enum):
    """What :func:`compare` decided."""

    CORRECT = "correct"
    WRONG = "wrong"
    SAME = "same"  # identical after normalisation: correct when the gold parses


# -- extraction -------------------------------------------------------------------------------
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_GAP = re.compile(
    r"(?:\s|[,;.$]|\\quad|\\qquad|\\[,;:! ]|\\[()\[\]]|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b)*"
)


def _matching_braces(text: str) -> dict[int, int]:
    """Position of each ``{`` -> position of its ``}``, in one pass (escaped ``\\{`` ``\\}`` skipped)."""
    stack: list[int] = []
    match: dict[int, int] = {}
    for m in re.finditer(r"\\[{}]|[{}]", text):
        tok = m.group()
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            match[stack.pop()] = m.start()
    return match


def extract_boxed(text: str) -> str | None:
    """The final ``\\boxed{...}`` (or ``\\fbox{...}``) answer of ``text``; linear time.

    Boxes written one after another, separated only by commas, spaces, ``\\quad`` or "and"/"or",
    form one answer joined with ", " (at most ``MAX_MERGED_BOXES``). A box that is not closed is
    skipped. A caller that wants the answer from part of a completion (e.g. the text before a
    closing think tag) passes that part.

    Args:
        text: a completion; only its last ``MAX_COMPLETION_CHARS`` characters are searched (the
            last ``_WINDOW`` first, which holds the final answer of almost every completion).

    Returns:
        the stripped content, "" for an empty box, or None when there is no closed box.

    Example:
        >>> extract_boxed(r"so \\boxed{\\frac{1}{2}} and finally \\boxed{ 42 }")
        '42'
        >>> extract_boxed(r"\\boxed{1}, \\boxed{2} and \\boxed{3}")
        '1, 2, 3'
    """
    text = text[-MAX_COMPLETION_CHARS:]
    if len(text) > _WINDOW:
        found = _last_boxes(text[-_WINDOW:])
        if found is not None and found[1] > _MAX_MERGE_GAP:  # the run of boxes starts inside the window
            return found[0]
    found = _last_boxes(text)
    return None if found is None else found[0]


def _last_boxes(text: str) -> tuple[str, int] | None:
    """(the final answer, where its first box starts) in ``text``, or None."""
    boxes = [(m.start(), m.end() - 1) for m in _BOX.finditer(text)]  # (start, its "{")
    if not boxes:
        return None
    match = _matching_braces(text)
    closed = [(s, o, match[o]) for s, o in boxes if o in match]
    if not closed:
        return None
    parts = [closed[-1]]
    for prev in reversed(closed[:-1]):
        gap_start, gap_end = prev[2] + 1, parts[-1][0]
        if len(parts) == MAX_MERGED_BOXES or gap_start > gap_end or gap_end - gap_start > _MAX_MERGE_GAP:
            break
        if _GAP.fullmatch(text, gap_start, gap_end) is None:
            break
        parts.append(prev)
    answer = ", ".join(part for part in (text[o + 1 : c].strip() for _, o, c in reversed(parts)) if part)
    return answer, parts[-1][0]


def gold_text(gold: str) -> str:
    """The gold answer to compare with: a boxed gold is read as :func:`extract_boxed` reads a
    completion (separate boxes are never merged), math delimiters are removed.

    Example:
        >>> gold_text(r"\\boxed{1} no no \\boxed{2}"), gold_text("$\\\\frac{1}{2}$")
        ('2', '\\\\frac{1}{2}')
    """
    gold = str(gold).strip()
    if "\\boxed" in gold or "\\fbox" in gold:
        boxed = extract_boxed(gold)
        if boxed:
            return boxed
    return _strip_delimiters(gold)


def _strip_delimiters(s: str) -> str:
    s = s.strip()
    for a, b in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if len(s) > len(a) + len(b) and s.startswith(a) and s.endswith(b):
            return s[len(a) : -len(b)].strip()
    return s


# -- screening --------------------------------------------------------------------------------
def screen(answer: str) -> str | None:
    """Why ``answer`` is pathological for sympy, or None. Linear in its length.

    Size over ``MAX_ANSWER_CHARS``; brackets nested deeper than ``MAX_NESTING``; a power tower
    (a power of a number inside an exponent, ``2^{2^{100}}``); a numeric exponent literal of more
    than ``MAX_EXPONENT_DIGITS`` digits; more than ``MAX_FACTORIALS`` factorial signs or a
    factorial of a literal of five digits or more.

    Example:
        >>> screen("2^{2^{100}}"), screen("10!!!!!"), screen("e^{x^2}")
        ('power tower', 'factorial chain', None)
    """
    if len(answer) > MAX_ANSWER_CHARS:
        return f"longer than {MAX_ANSWER_CHARS} characters"
    depth = deepest = 0
    exp_depths: list[int] = []  # depths of the exponent groups we are inside
    prev_numeric = False
    n = len(answer)
    i = 0
    while i < n:
        ch = answer[i]
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            if exp_depths and exp_depths[-1] == depth:
                exp_depths.pop()
            depth = max(depth - 1, 0)
        elif ch == "^":
            if exp_depths and prev_numeric:
                return "power tower"
            j = i + 1
            while j < n and answer[j] == " ":
                j += 1
            if j < n and answer[j] == "{":
                exp_depths.append(depth + 1)
                k = j + 1
                while k < n and answer[k].isdigit():
                    k += 1
                if prev_numeric and k - j - 1 > MAX_EXPONENT_DIGITS:
                    return "huge exponent"
        if not ch.isspace():
            prev_numeric = ch.isdigit() or (ch in ")}" and prev_numeric)
        i += 1
    if deepest > MAX_NESTING:
        return f"nested deeper than {MAX_NESTING}"
    if answer.count("!") - answer.count("\\!") > MAX_FACTORIALS:  # "\\!" is a thin space
        return "factorial chain"
    if re.search(r"\d{5,}\s*!", answer):
        return "factorial of a huge number"
    return None


# -- normalisation ----------------------------------------------------------------------------
_SIZING = re.compile(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\displaystyle|\\!\s*")
_MV_SPELLING = re.compile(r"\\mathrm\{\s*([ei])\s*\}|\\!\s*")


def for_math_verify(s: str) -> str:
    """The spelling sent to math-verify: ``\\mathrm{e}`` is Euler's number e (math-verify reads
    it as a symbol), ``\\!`` (a negative thin space, ``11,\\! 111``) is dropped.

    Example:
        >>> for_math_verify(r"1 - \\frac{1}{\\mathrm{e}}")
        '1 - \\\\frac{1}{e}'
    """
    return _MV_SPELLING.sub(lambda m: m.group(1) or "", s)


_FRAC = re.compile(r"\\[dtc]frac")
_LOOSE_SPACE = re.compile(r" (?=[^A-Za-z0-9])|(?<=[^A-Za-z0-9]) ")


def normalise(s: str) -> str:
    """A canonical spelling for identity tests, only as loose as math-verify's own reading:
    ``\\left`` ``\\right`` ``\\displaystyle`` ``\\!`` ``$`` dropped, ``\\dfrac`` ``\\tfrac``
    ``\\cfrac`` -> ``\\frac``, ``{,}`` -> ``,``, spaces next to a symbol dropped. A space between
    two letters or digits stays (``4 i`` is not ``4i`` to math-verify), and so do a trailing
    period, units and spacing commands.

    Example:
        >>> normalise(r"\\left( \\dfrac{1}{2}, 3 \\right)")
        '(\\\\frac{1}{2},3)'
    """
    s = _SIZING.sub("", s)
    s = _FRAC.sub(r"\\frac", s).replace("{,}", ",").replace("$", "")
    return _LOOSE_SPACE.sub("", " ".join(s.split()))


# -- numbers ----------------------------------------------------------------------------------
_NUMBER = re.compile(r"[+-]?(?:\d{1,64}(?:\.\d{1,64})?|\.\d{1,64})")
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
_MV_COMMA_NUMBER = re.compile(r"\s*-?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*")  # math-verify reads these as one number


def _plain_number(s: str) -> Fraction | None:
    """A decimal number written plainly (``12``, ``-3.50``, ``1,000``, ``1{,}000``), else None.

    Comma rules in the module docstring: ``1,2,3``, ``1,2`` and ``1,22`` are lists, not numbers.

    Example:
        >>> _plain_number("1{,}000.5"), _plain_number("1,2,3"), _plain_number("7.")
        (Fraction(2001, 2), None, None)
    """
    s = s.strip().strip("$").strip().replace("{,}", ",")
    if len(s) > 200:
        return None
    s = re.sub(r"\\!\s*", "", s)  # "11,\\! 111" is 11,111; a plain "32, 349" stays a list
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if _NUMBER.fullmatch(s):
        return Fraction(s)
    return None


# -- expressions ------------------------------------------------------------------------------
class _Undecided(Exception):
    """The expression is outside what this module evaluates."""


_TOKEN = re.compile(r"\d+(?:\.\d+)?|\.\d+|\\[A-Za-z]+|\\.|[A-Za-z]|\S")
_POINTS = (0.5772156649015329, 1.3247179572447460)  # values of the first variable at the two points
# Letters math-verify may strip as units after a number (its list: c, d, g, h, l, m, o, s, t, ...),
# and e, i, E, I (constants to it): never variables here.
_NOT_VARIABLES = frozenset("cdghlmostCDGHLMOSTeiEI")


def _variable_values(name: str) -> tuple[float, float]:
    """Fixed, distinct, irrational-looking values of a variable at the two sample points."""
    k = ord(name)
    return tuple(math.fmod(p * (1 + k * 0.6180339887498949), 1.0) + 0.75 for p in _POINTS)


def _bits(x: Fraction) -> int:
    return max(abs(x.numerator).bit_length(), x.denominator.bit_length())


class _Value:
    """A value: an exact rational, or floats at the two sample points. ``decimal``: a decimal
    literal occurs in it; ``plain``: it is one literal; ``symbolic``: a variable occurs in it."""

    __slots__ = ("exact", "floats", "decimal", "plain", "symbolic")

    def __init__(self, exact: Fraction | None, floats: tuple[float, float] | None, decimal: bool,
                 plain: bool = False, symbolic: bool = False):
        if exact is not None and _bits(exact) > MAX_EXACT_BITS:
            raise _Undecided
        self.exact, self.floats, self.decimal, self.plain, self.symbolic = exact, floats, decimal, plain, symbolic

    def pair(self) -> tuple[float, float]:
        """The floats at the two points; an exact value too big for a float to hold exactly is
        undecided (``\\sqrt{10^{20}+1}`` must not round to ``10^{10}``)."""
        if self.floats is not None:
            return self.floats
        if _bits(self.exact) > 50:
            raise _Undecided
        f = float(self.exact)
        return (f, f)


def _lift(exact_fn, float_fn, a: _Value, b: _Value) -> _Value:
    dec, sym = a.decimal or b.decimal, a.symbolic or b.symbolic
    if a.exact is not None and b.exact is not None:
        return _Value(exact_fn(a.exact, b.exact), None, dec)
    pa, pb = a.pair(), b.pair()
    try:
        out = (float_fn(pa[0], pb[0]), float_fn(pa[1], pb[1]))
    except (ZeroDivisionError, OverflowError, ValueError):
        raise _Undecided from None
    if not all(math.isfinite(x) for x in out):
        raise _Undecided
    return _Value(None, out, dec, symbolic=sym)


class _Parser:
    """Recursive descent over LaTeX tokens: + - (implicit) * / ^, \\frac, \\sqrt, \\pi, letters."""

    def __init__(self, text: str, letters: set[str]):
        self.toks = _TOKEN.findall(text)
        self.i = 0
        self.letters = letters

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _Undecided
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        if self.take() != tok:
            raise _Undecided

    def parse(self) -> _Value:
        if not self.toks:
            raise _Undecided
        value = self.expr()
        if self.peek() is not None:
            raise _Undecided
        return value

    def expr(self) -> _Value:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term()
            value = _lift(lambda a, b: a + b, lambda a, b: a + b, value, rhs) if op == "+" else \
                _lift(lambda a, b: a - b, lambda a, b: a - b, value, rhs)
        return value

    def term(self) -> _Value:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                value = _lift(lambda a, b: a * b, lambda a, b: a * b, value, self.unary())
            elif tok == "/":
                self.take()
                value = _divide(value, self.unary())
            elif tok is not None and (tok[0].isdigit() or tok in ("(", "{", "\\frac", "\\sqrt", "\\pi")
                                      or (len(tok) == 1 and tok.isalpha())):
                value = _lift(lambda a, b: a * b, lambda a, b: a * b, value, self.power())
            else:
                return value

    def unary(self) -> _Value:
        if self.peek() in ("+", "-"):
            sign = self.take()
            value = self.unary()
            return value if sign == "+" else _lift(lambda a, b: -a, lambda a, b: -a, value, value)
        return self.power()

    def power(self) -> _Value:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            exponent = self.group()
        else:
            tok = self.take()
            if tok[0].isdigit() and len(tok) > 1:  # x^23: x^2 * 3 in LaTeX, x^{23} to math-verify
                raise _Undecided
            self.i -= 1
            exponent = self.atom()
        return _power(base, exponent)

    def group(self) -> _Value:
        self.expect("{")
        value = self.expr()
        self.expect("}")
        return value

    def argument(self, split: bool = False) -> _Value:
        """A command argument: ``{...}`` or one digit or letter; ``split``: the first argument of
        ``\\frac`` may take the first of two digits (``\\frac12``). Anything longer
        (``\\frac123``, ``\\sqrt12``) is read differently by LaTeX and math-verify: undecided."""
        if self.peek() == "{":
            return self.group()
        tok = self.take()
        if tok[0].isdigit():
            if split and len(tok) == 2:
                self.toks[self.i - 1 : self.i] = [tok[0], tok[1]]
            elif len(tok) > 1:
                raise _Undecided
            return _Value(Fraction(int(tok[0])), None, False, plain=True)
        self.i -= 1
        return self.atom()

    def atom(self) -> _Value:
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            if len(tok) > MAX_LITERAL_DIGITS:
                raise _Undecided
            return _Value(Fraction(tok), None, "." in tok, plain=True)
        if tok == "(":
            value = self.expr()
            self.expect(")")
            return value
        if tok == "{":
            self.i -= 1
            return self.group()
        if tok == "\\frac":
            return _divide(self.argument(split=True), self.argument())
        if tok == "\\sqrt":
            if self.peek() == "[":
                raise _Undecided
            return _sqrt(self.argument())
        if tok == "\\pi":
            return _Value(None, (math.pi, math.pi), False)
        if len(tok) == 1 and tok.isalpha() and tok not in _NOT_VARIABLES:
            if self.peek() == "(":  # f(x): a function, not a product
                raise _Undecided
            self.letters.add(tok)
            return _Value(None, _variable_values(tok), False, symbolic=True)
        raise _Undecided


def _divide(a: _Value, b: _Value) -> _Value:
    if b.exact is not None and b.exact == 0:
        raise _Undecided
    return _lift(lambda x, y: x / y, lambda x, y: x / y, a, b)


def _sqrt(a: _Value) -> _Value:
    """A square root; of a variable it is undecided (``\\sqrt{x^2}`` is ``|x|``, not ``x``)."""
    if a.symbolic:
        raise _Undecided
    if a.exact is not None:
        if a.exact < 0:
            raise _Undecided
        num, den = a.exact.numerator, a.exact.denominator
        rn, rd = math.isqrt(num), math.isqrt(den)
        if rn * rn == num and rd * rd == den:
            return _Value(Fraction(rn, rd), None, a.decimal)
    p = a.pair()
    if min(p) < 0:
        raise _Undecided
    return _Value(None, (math.sqrt(p[0]), math.sqrt(p[1])), a.decimal)


def _power(base: _Value, exponent: _Value) -> _Value:
    """A power with a constant exponent; an integer one on a variable, any one on a constant."""
    if exponent.symbolic:
        raise _Undecided
    dec = base.decimal or exponent.decimal
    if exponent.exact is not None and exponent.exact.denominator == 1:
        e = exponent.exact.numerator
        if abs(e) > 256:
            raise _Undecided
        if base.exact is not None:
            if (base.exact == 0 and e < 0) or _bits(base.exact) * abs(e) > MAX_EXACT_BITS:
                raise _Undecided
            return _Value(base.exact ** e, None, dec)
    elif base.symbolic:
        raise _Undecided
    pb, pe = base.pair(), exponent.pair()
    if exponent.exact is None or exponent.exact.denominator != 1:
        if min(pb) <= 0:
            raise _Undecided
    try:
        out = (pb[0] ** pe[0], pb[1] ** pe[1])
    except (ZeroDivisionError, OverflowError):
        raise _Undecided from None
    if not all(isinstance(x, float) and math.isfinite(x) for x in out):
        raise _Undecided
    return _Value(None, out, dec, symbolic=base.symbolic)


def _evaluate(s: str, letters: set[str]) -> _Value:
    """The value of a scalar expression (its variables added to ``letters``), or raises
    :class:`_Undecided`."""
    number = _plain_number(s)
    if number is not None:
        return _Value(number, None, "." in s, plain=True)
    return _Parser(s, letters).parse()


_AMBIGUOUS = re.compile(
    r"\d\s+\.?\d"  # "2 3", "1 000", "3 1/2": a product, a number or a mixed number?
    r"|\d\s*\\frac"  # "2\frac{1}{3}": a mixed number to math-verify, a product in LaTeX
    r"|(?<![\\A-Za-z])[A-Za-z]{3,}"  # a word: "odd" is not o*d*d
    r"|(?<![\\A-Za-z])[A-Za-z]{2}\s*(?:\^\s*(?:\{[^{}]*\}|\w))?\s*$"  # trailing letters: units to math-verify?
)


def _prepare(s: str) -> str:
    """``\\left`` ``\\right`` ``\\displaystyle`` ``\\!`` dropped, ``\\dfrac`` -> ``\\frac``; a
    form math-verify may read otherwise than LaTeX does (:data:`_AMBIGUOUS`) is undecided."""
    s = _SIZING.sub("", s)
    s = _FRAC.sub(r"\\frac", s)
    if _AMBIGUOUS.search(s):
        raise _Undecided
    return s.strip()


def _apart(diff: float | Fraction, a, g, places: int, slack: int = 9) -> bool:
    """True when two values that differ by ``diff`` cannot be equal after rounding to ``places``
    decimal places, even with a floating-point error of ``10**-slack`` relative (math-verify
    reads a literal to 15 digits or more, and computes with decimals in floating point)."""
    if isinstance(diff, Fraction):
        return diff > Fraction(1, 10**places) + Fraction(1, 10**slack) * max(1, abs(a), abs(g))
    return diff > 10.0**-places + 10.0**-slack * max(1.0, abs(a), abs(g))


_DECIMAL_LITERAL = re.compile(r"\d\.\d|(?<![\w.])\.\d")


def gold_places(gold: str) -> int:
    """Decimal places to which an answer must equal ``gold`` (the numeric rule of the module
    docstring): :data:`DECIMAL_GOLD_PLACES` when the gold is written with a decimal point, else
    :data:`EXACT_GOLD_PLACES`.

    Example:
        >>> gold_places("0.25"), gold_places(r"\\frac{1}{4}"), gold_places("(1, .5)")
        (6, 12, 6)
    """
    return DECIMAL_GOLD_PLACES if _DECIMAL_LITERAL.search(gold) else EXACT_GOLD_PLACES


def _same_value(a: _Value, g: _Value, places: int) -> bool | None:
    """Equal, not equal, or None (math-verify decides): the numeric rule of the module docstring,
    at ``places`` decimal places (:func:`gold_places`).

    Without a decimal on either side: exact equality of rationals, else agreement within 1e-9 at
    both points. With a decimal: equal when both are the same rational and each decimal side is
    one literal; unequal when they cannot round to the same value at the gold's places; else
    undecided (math-verify computes decimals in floating point).
    """
    if a.exact is not None and g.exact is not None:
        if not (a.decimal or g.decimal):
            return a.exact == g.exact
        literals = (a.plain or not a.decimal) and (g.plain or not g.decimal)  # no decimal arithmetic
        if a.exact == g.exact:
            return True if literals else None
        return False if _apart(abs(a.exact - g.exact), a.exact, g.exact, places, 14 if literals else 9) else None
    try:
        pa, pg = a.pair(), g.pair()
    except _Undecided:
        return None
    if a.decimal or g.decimal:
        return False if any(_apart(abs(x - y), x, y, places) for x, y in zip(pa, pg)) else None
    if min(abs(x) for x in pa + pg) < 1e-6:
        return None
    return all(abs(x - y) <= FLOAT_RTOL * max(abs(x), abs(y)) for x, y in zip(pa, pg))


# -- collections ------------------------------------------------------------------------------
def _split_top(s: str) -> list[str]:
    """Split at commas (and semicolons) outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _shape(s: str) -> tuple[str, list[str]] | None:
    """("tuple", items) for ``(a, b)``, ("set", items) for ``\\{a, b\\}``, ("list", items) for
    ``a, b``, ("scalar", [s]); None for intervals and anything bracketed otherwise."""
    s = s.strip()
    if not s:
        raise _Undecided
    if s.startswith("\\{") and s.endswith("\\}"):
        return "set", _split_top(s[2:-2])
    if s[:1] in "([" and s[-1:] in ")]":
        inner = s[1:-1]
        if _split_top(inner) == [inner.strip()]:
            return ("scalar", [s]) if s[0] == "(" and s[-1] == ")" else None
        return ("tuple", _split_top(inner)) if s[0] == "(" and s[-1] == ")" else None
    if _plain_number(s) is not None:
        return "scalar", [s]
    if _MV_COMMA_NUMBER.fullmatch(s):  # "0,111": one number to math-verify, not a thousands number here
        raise _Undecided
    items = _split_top(s)
    return ("list", items) if len(items) > 1 else ("scalar", [s])


def _match_items(answers: list[_Value], golds: list[_Value], ordered: bool, places: int) -> bool | None:
    if len(answers) != len(golds):
        return False
    if ordered:
        results = [_same_value(a, g, places) for a, g in zip(answers, golds)]
        return False if False in results else None if None in results else True
    left = list(golds)
    for a in answers:
        for k, g in enumerate(left):
            same = _same_value(a, g, places)
            if same is None:
                return None
            if same:
                del left[k]
                break
        else:
            return False
    return True


def _read(s: str) -> tuple[str, list[_Value], set[str]]:
    """(shape, item values, variables) of an answer or gold, or raises :class:`_Undecided`."""
    if len(s) > MAX_ANSWER_CHARS:
        raise _Undecided
    shape = _shape(_prepare(s))
    if shape is None:
        raise _Undecided
    letters: set[str] = set()
    return shape[0], [_evaluate(x, letters) for x in shape[1]], letters


_ERRORS = (_Undecided, ValueError, ZeroDivisionError, OverflowError, RecursionError)


def compare(answer: str, gold: str) -> Outcome | None:
    """An exact decision on ``answer`` against ``gold`` (both extracted strings), or None.

    Rules (in order): identical after :func:`normalise` -> SAME; ordered tuples ``(a, b)`` match
    tuples or bare lists item by item, in order; sets ``\\{a, b\\}`` and bare lists ``a, b``
    match sets or bare lists in any order; a single value never matches a collection of two or
    more; items compare by value (:func:`_same_value`). Undecided (None): either side longer
    than :data:`MAX_ANSWER_CHARS`, a tuple against a set, a single value against a
    one-element set, different variables on the two sides (``A`` and ``a`` are one choice to
    math-verify), and every form the module docstring leaves to math-verify.

    Example:
        >>> compare("(2, 1)", "1,2"), compare(r"\\frac{6}{4}", "1.5"), compare(r"\\sin x", "1")
        (<Outcome.WRONG: 'wrong'>, <Outcome.CORRECT: 'correct'>, None)
    """
    if len(answer) > MAX_ANSWER_CHARS or len(gold) > MAX_ANSWER_CHARS:
        return None
    if normalise(answer) == normalise(gold):
        return Outcome.SAME
    try:
        (a_kind, a_vals, a_letters), (g_kind, g_vals, g_letters) = _read(answer), _read(gold)
    except _ERRORS:
        return None
    if a_letters != g_letters:
        return None
    kinds = {a_kind, g_kind}
    if "scalar" in kinds and len(kinds) > 1:
        return None if min(len(a_vals), len(g_vals)) == max(len(a_vals), len(g_vals)) == 1 else Outcome.WRONG
    if kinds == {"tuple", "set"}:
        return None
    result = _match_items(a_vals, g_vals, "tuple" in kinds, gold_places(gold))
    if result is None:
        return None
    return Outcome.CORRECT if result else Outcome.WRONG


def decide(answer: str, gold: str) -> bool | None:
    """The exact rules' verdict: True (correct), False (wrong) or None (math-verify decides).

    :func:`compare`, with SAME taken as correct only for a gold the rules read themselves
    (:func:`gold_is_plain`): math-verify may read another gold and the same text as a boxed answer
    differently, so it judges those. :class:`lead_lite.verifier.MathVerifier` decides with this.

    Example:
        >>> decide("0.5", r"\\frac12"), decide("0.333333", r"\\frac13"), decide(r"\\text{A}", r"\\text{A}")
        (True, False, None)
    """
    outcome = compare(answer, gold)
    if outcome is Outcome.SAME:
        return True if gold_is_plain(gold) else None
    return None if outcome is None else outcome is Outcome.CORRECT


def gold_is_plain(gold: str) -> bool:
    """True when :func:`compare` can read ``gold`` itself (so it certainly parses).

    Example:
        >>> gold_is_plain(r"3\\sqrt{2}"), gold_is_plain(r"\\frac{1}{")
        (True, False)
    """
    try:
        _read(gold)
    except _ERRORS:
        return False
    return True
