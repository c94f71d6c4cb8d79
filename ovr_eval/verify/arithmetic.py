"""The value of a closed-form LaTeX number, computed in process without sympy.

``2\\sqrt{3}+\\frac{\\pi}{4}``, ``3\\cdot2^{5}``, ``\\sqrt[3]{8}``, ``(1+\\sqrt{5})/2``: numbers,
+ - * / ^, \\frac, \\sqrt (and n-th roots), \\pi, parentheses and braces, implicit
multiplication and small factorials. Anything else (a variable, a function, a relation) has no
value here and goes on to the symbolic check. A recursive-descent parser over a bounded string:
nothing is ever evaluated as code, depth and exponents are capped.
"""

from __future__ import annotations

import math
import re

MAX_CHARS = 200
MAX_DEPTH = 40
_TOKEN = re.compile(r"\s*(\d+\.?\d*|\.\d+|\\[a-zA-Z]+|[-+*/^(){}\[\]!])")


class _NoValue(Exception):
    """The text is not a closed-form number this module reads."""


class _Parser:
    def __init__(self, text: str):
        self.tokens = self._tokenize(text)
        self.i = 0
        self.depth = 0

    @staticmethod
    def _tokenize(text: str) -> list[str]:
        tokens, position = [], 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match:
                raise _NoValue
            tokens.append(match.group(1))
            position = match.end()
        return tokens

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _NoValue
        self.i += 1
        return token

    def expression(self) -> float:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _NoValue
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        self.depth -= 1
        return value

    def term(self) -> float:
        value = self.signed()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                value *= self.signed()
            elif token in ("/", "\\div"):
                self.take()
                divisor = self.signed()
                if divisor == 0:
                    raise _NoValue
                value /= divisor
            elif token is not None and (token[0].isdigit() or token in ("(", "{", "\\pi",
                                                                         "\\frac", "\\sqrt")):
                value *= self.power()  # implicit multiplication: 2\sqrt{3}, 3\pi, (1)(2)
            else:
                return value

    def signed(self) -> float:
        if self.peek() in ("-", "+"):
            return -self.signed() if self.take() == "-" else self.signed()
        return self.power()

    def power(self) -> float:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        exponent = self.group() if self.peek() == "{" else self.signed_atom()
        if abs(base) > 1 and exponent * math.log10(abs(base)) > 300:
            raise _NoValue
        try:
            result: float = base ** exponent
        except (OverflowError, ZeroDivisionError):
            raise _NoValue from None
        if isinstance(result, complex):
            raise _NoValue
        return result

    def signed_atom(self) -> float:
        if self.peek() == "-":
            self.take()
            return -self.postfix()
        return self.postfix()

    def postfix(self) -> float:
        value = self.atom()
        while self.peek() == "!":
            self.take()
            if value != int(value) or not 0 <= value <= 100:
                raise _NoValue
            value = float(math.factorial(int(value)))
        return value

    def group(self) -> float:
        self.take("{")
        value = self.expression()
        self.take("}")
        return value

    def atom(self) -> float:
        token = self.take()
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        if token == "\\pi":
            return math.pi
        if token in ("(", "["):
            value = self.expression()
            self.take(")" if token == "(" else "]")
            return value
        if token == "{":
            self.i -= 1
            return self.group()
        if token == "\\frac":
            numerator, denominator = self.group(), self.group()
            if denominator == 0:
                raise _NoValue
            return numerator / denominator
        if token == "\\sqrt":
            index = 2.0
            if self.peek() == "[":
                self.take()
                index = self.expression()
                self.take("]")
            radicand = self.group() if self.peek() == "{" else self.atom()
            if radicand < 0 or index <= 0:
                raise _NoValue
            root: float = radicand ** (1 / index)
            return root
        raise _NoValue


def value_of(normalized: str) -> float | None:
    """The value of a closed-form number written in LaTeX (a normalised answer), else None."""
    if not normalized or len(normalized) > MAX_CHARS or "=" in normalized:
        return None
    try:
        parser = _Parser(normalized)
        value = parser.expression()
        if parser.peek() is not None or not math.isfinite(value):
            return None
        return value
    except (_NoValue, RecursionError, OverflowError, ValueError):
        return None


def values_equal(a: float, b: float) -> bool:
    """Equal up to a relative 1e-9 (far below any rounding a model would write)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
