"""The Cypher lexer: query text -> a list of Tokens, each with its offsets, line and column.

One pass, left to right, never backtracking: every step consumes at least one character, so
the time is linear in the query's length, and the length is capped (MAX_QUERY_CHARS).

- Whitespace and comments (`// to the end of the line`, `/* ... */`) separate tokens.
- Names: a letter or `_`, then letters, digits or `_` (Unicode letters too), or anything between
  backticks (a doubled backtick is one backtick). Keywords are names; the parser decides where
  a name is a keyword, so `Token.kw` holds the upper-cased text of every unquoted name (keywords
  are case-insensitive) and a backticked name is never a keyword.
- Numbers: `42`, `0x2A`, `0o52` (INT), `1.5`, `.5`, `1e3`, `1.5E-3` (FLOAT). `1..3` is INT `..` INT.
- Strings: '...' or "..." with the escapes \\\\ \\' \\" \\b \\f \\n \\r \\t \\uXXXX \\UXXXXXXXX.
- Parameters: `$name`, `$0`, `` $`any name` ``.
- Punctuation: `( ) [ ] { } , . .. : | ; = <> < <= > >= + += - * / % ^`. Arrows are not tokens
  (`->` is `-` `>`), so `a<-1` still reads as `a < -1`; the parser assembles `-[...]->`.

>>> [t.text for t in tokenize("MATCH (n:`My Label`)-->(m) // hi")][:6]
['MATCH', '(', 'n', ':', '`My Label`', ')']
>>> tokenize("RETURN 'a\\\\n'")[1].value
'a\\n'
"""
import re

from ...errors import CypherSyntaxError

MAX_QUERY_CHARS = 100_000
"""The longest query accepted, in characters (vectors belong in $parameters, not in the text)."""

IDENT, QUOTED, INT, FLOAT, STRING, PARAM, PUNCT, EOF = (
    "ident", "quoted", "int", "float", "string", "param", "punct", "eof")

INT_LIMIT = 2 ** 63
"""Integer literals are 64-bit: up to 2**63 - 1, and 2**63 only right after a unary minus."""

# one alternative per kind of token start, tried in order (comments before '/', '!=' and '=~'
# before '='); strings, names in backticks, parameters and numbers are finished by hand
_TOKEN = re.compile(r"""
     (?P<space>\s+)
    |(?P<comment>//[^\n]*|/\*)
    |(?P<name>[^\W\d]\w*)
    |(?P<number>[0-9])
    |(?P<bad>!=|=~)
    |(?P<punct>\.\.|<>|<=|>=|\+=|[()\[\]{},.:|;=<>+\-*/%^])
    |(?P<quote>['"])
    |(?P<backtick>`)
    |(?P<param>\$)
    |(?P<other>.)
""", re.X | re.S)
_NAME = re.compile(r"[^\W\d]\w*")
_DIGITS = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0o[0-7]+|([0-9]+\.[0-9]+|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?")
_STRING_STOP = {"'": re.compile(r"['\\]"), '"': re.compile(r'["\\]')}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# after one of these a '.' is a property lookup, never the start of a number such as .5
_VALUE_END = {IDENT, QUOTED, PARAM, INT, FLOAT, STRING}


class Token:
    """One token: `kind` (IDENT QUOTED INT FLOAT STRING PARAM PUNCT EOF), `text` (its source),
    `value` (the int, float or decoded string, the parameter's or name's text, the punctuation),
    `kw` (upper-cased text of an unquoted name, else None), `start`/`end` offsets, `line` and
    `column` (1-based)."""

    __slots__ = ("kind", "text", "value", "kw", "start", "end", "line", "column")

    def __init__(self, kind, text, value, start, end, line, column):
        self.kind, self.text, self.value, self.start, self.end = kind, text, value, start, end
        self.line, self.column = line, column
        self.kw = text.upper() if kind == IDENT else None

    def __repr__(self):
        return f"Token({self.kind}, {self.text!r}, {self.line}:{self.column})"


def describe(token):
    """How an error message names a token: 'WHERE', string 'abc', end of input."""
    if token.kind == EOF:
        return "end of input"
    text = token.text if len(token.text) <= 24 else token.text[:21] + "..."
    return f"string {text}" if token.kind == STRING else f"'{text}'"


def _printable(ch):
    return repr(ch) if not ch.isprintable() or ch in "'\"" else f"'{ch}'"


class _Lexer:
    def __init__(self, text):
        self.text = text
        self.line = 1
        self.line_start = 0      # offset of the first character of the current line

    def error(self, message, offset, expected=None):
        line, column = self.position(offset)
        raise CypherSyntaxError(message, line, column, expected=expected)

    def position(self, offset):
        """(line, column) of an offset at or after the current line's start."""
        newlines = self.text.count("\n", self.line_start, offset)
        if newlines:
            return self.line + newlines, offset - self.text.rfind("\n", self.line_start, offset)
        return self.line, offset - self.line_start + 1

    def advance_lines(self, start, end):
        newlines = self.text.count("\n", start, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", start, end) + 1

    def tokens(self):
        text, n = self.text, len(self.text)
        out = []
        append = out.append
        match = _TOKEN.match
        i = 0
        while i < n:
            m = match(text, i)
            group = m.lastgroup
            end = m.end()
            if group == "space":
                if "\n" in m.group():
                    self.advance_lines(i, end)
                i = end
                continue
            if group == "comment":
                if text[i + 1] == "*":
                    close = text.find("*/", i + 2)
                    if close < 0:
                        self.error("expected '*/' to close the comment that starts here, found end of input",
                                   i, "'*/'")
                    self.advance_lines(i, close)
                    end = close + 2
                i = end
                continue
            line, column = self.line, i - self.line_start + 1
            if group == "name":
                value = m.group()
                append(Token(IDENT, value, value, i, end, line, column))
            elif group == "punct":
                value = m.group()
                if value == "." and end < n and "0" <= text[end] <= "9" and not (out and (
                        out[-1].kind in _VALUE_END or out[-1].value in (")", "]", "}"))):
                    end, kind, value = self.number(i)         # .5
                    append(Token(kind, text[i:end], value, i, end, line, column))
                else:
                    append(Token(PUNCT, value, value, i, end, line, column))
            elif group == "number":
                end, kind, value = self.number(i)
                append(Token(kind, text[i:end], value, i, end, line, column))
            elif group == "quote":
                end, value = self.string(i)
                append(Token(STRING, text[i:end], value, i, end, line, column))
                self.advance_lines(i, end)
            elif group == "backtick":
                end, value = self.quoted(i)
                append(Token(QUOTED, text[i:end], value, i, end, line, column))
                self.advance_lines(i, end)
            elif group == "param":
                end, value = self.parameter(i)
                append(Token(PARAM, text[i:end], value, i, end, line, column))
            elif group == "bad":
                op = m.group()
                if op == "!=":
                    self.error("expected '<>' for 'not equal', found '!='", i, "'<>'")
                self.error("expected an operator other than '=~' (regular expressions are not supported), "
                           "found '=~'", i, "an operator")
            else:
                self.error(f"expected a token, found the character {_printable(m.group())}", i, "a token")
            i = end
        line, column = self.position(n)
        append(Token(EOF, "", None, n, n, line, column))
        return out

    def number(self, i):
        text = self.text
        m = _NUMBER.match(text, i)
        end = m.end()
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            self.error(f"expected a number, found '{text[i:end + 1]}'", i, "a number")
        raw = m.group()
        if raw[:2] in ("0x", "0X", "0o"):
            if len(raw) > 20:
                self.error(f"expected an integer within 64 bits, found '{raw[:24]}'", i, "a 64-bit integer")
            value = int(raw[2:], 16 if raw[1] in "xX" else 8)
        elif m.group(1) is not None and ("." in raw or m.group(2)):
            value = float(raw)
            if value in (float("inf"), float("-inf")):
                self.error(f"expected a finite floating point number, found '{raw[:24]}'", i, "a finite number")
            return end, FLOAT, value
        else:
            # guard before int(): a huge digit string is slow to convert (and capped by CPython)
            if len(raw.lstrip("0")) > 19:
                self.error(f"expected an integer within 64 bits, found '{raw[:24]}'", i, "a 64-bit integer")
            value = int(raw)
        if value > INT_LIMIT:
            self.error(f"expected an integer within 64 bits, found '{raw[:24]}'", i, "a 64-bit integer")
        return end, INT, value

    def string(self, i):
        text, quote = self.text, self.text[i]
        stop = _STRING_STOP[quote]
        parts = []
        j = i + 1
        while True:
            m = stop.search(text, j)
            if m is None:
                self.error(f"expected a closing {quote} for the string that starts here, found end of input",
                           i, quote)
            k = m.start()
            parts.append(text[j:k])
            if text[k] == quote:
                return k + 1, "".join(parts)
            j = self.escape(k, parts)

    def escape(self, k, parts):
        """Decode the escape at offset k (a backslash) into parts; the offset after it."""
        text = self.text
        ch = text[k + 1:k + 2]
        if ch in _ESCAPES:
            parts.append(_ESCAPES[ch])
            return k + 2
        if ch in ("u", "U"):
            width = 4 if ch == "u" else 8
            digits = text[k + 2:k + 2 + width]
            if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                code = int(digits, 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    parts.append(chr(code))
                    return k + 2 + width
                self.error(f"expected a Unicode scalar value, found '\\{ch}{digits}'", k, "a Unicode scalar value")
            self.error(f"expected {width} hex digits after '\\{ch}', found '{digits}'", k, f"{width} hex digits")
        found = "end of input" if not ch else _printable(ch)
        self.error("expected an escape (\\\\ \\' \\\" \\b \\f \\n \\r \\t \\uXXXX \\UXXXXXXXX) after '\\', "
                   f"found {found}", k, "an escape")

    def quoted(self, i):
        """A backticked name: `` `a``b` `` is a`b."""
        text = self.text
        parts = []
        j = i + 1
        while True:
            k = text.find("`", j)
            if k < 0:
                self.error("expected a closing ` for the name that starts here, found end of input", i, "`")
            parts.append(text[j:k])
            if text.startswith("``", k):     # a doubled backtick stands for one
                parts.append("`")
                j = k + 2
                continue
            name = "".join(parts)
            if not name:
                self.error("expected a name between the backticks, found ``", i, "a name")
            return k + 1, name

    def parameter(self, i):
        text = self.text
        j = i + 1
        if text.startswith("`", j):
            end, name = self.quoted(j)
            return end, name
        m = _NAME.match(text, j) or _DIGITS.match(text, j)
        if m is None:
            found = "end of input" if j >= len(text) else _printable(text[j])
            self.error(f"expected a parameter name after '$', found {found}", j, "a parameter name")
        return m.end(), m.group()


def tokenize(text):
    """The tokens of a query, ending with an EOF token; raises CypherSyntaxError (with line and
    column) for text that is not made of Cypher tokens or is longer than MAX_QUERY_CHARS.

    >>> [(t.kind, t.value) for t in tokenize("n.x >= $p")]
    [('ident', 'n'), ('punct', '.'), ('ident', 'x'), ('punct', '>='), ('param', 'p'), ('eof', None)]
    """
    if not isinstance(text, str):
        raise CypherSyntaxError(f"expected the query as a str, found {type(text).__name__}", 1, 1,
                                expected="a str")
    if len(text) > MAX_QUERY_CHARS:
        lexer = _Lexer(text)
        line, column = lexer.position(MAX_QUERY_CHARS)
        raise CypherSyntaxError(f"expected a query of at most {MAX_QUERY_CHARS} characters, found "
                                f"{len(text)} (pass large values as $parameters)", line, column,
                                expected=f"at most {MAX_QUERY_CHARS} characters")
    return _Lexer(text).tokens()
