r"""LaTeX markup in titles and abstracts turned into readable Unicode, for display only.

A modest table, not a TeX engine: accents, special letters, Greek and common math
symbols, font and decoration macros (their argument kept), fractions, roots and simple
super- and subscripts inside math, named operators with their space ("n\log n" -> "n log
n"), norms and paired delimiters hugging what they enclose ("\lVert x \rVert" -> "‖x‖").
An unknown macro loses its backslash ("\foo" -> "foo"); leftover grouping braces go.

References and links (their arguments may hold nested braces):

- \cite, \citep, \citet (and kin), \ref, \eqref, \label (and kin) are dropped, and so
  is the space before them when punctuation, a space or the end follows:
  "as shown \cite{x}." -> "as shown.";
- \footnote{t} -> " (t)"; \url{u} -> "u";
- \href{u}{t} -> "t (u)" when u is an http(s) URL, else "t" (plain text keeps no link).

A command whose brace argument never closes is left to the rules above. Braces are
matched once, up front, so any input takes linear time.

Typography applies to any text, since arXiv abstracts are plain text with LaTeX habits.
HTML tags there are shown as text, so "<!--" and "-->" may appear and must survive:

- ``quotes'' -> “quotes” and `single' -> ‘single’, only as a pair: the opening mark
  before a non-space, the closing one after one. Markdown's `code` and an unpaired
  mark stay.
- "--" is an en dash and "---" an em dash only where they read as dashes: right between
  two letters or digits ("10--20", "Erdős--Rényi", "word---word"), or alone between
  spaces with a word on either side ("a -- b"). A flag ("--flag", "x --flag"), a comment
  ("<!--", "-->") or a longer run ("----") stays.
- "~" (a tie) becomes a space after a word of two or more letters, a period or a closing
  "$", "}", ")" or "]", before a non-space ("Fig.~3", "Section~2", "of~$n$"), and between
  a number and a unit ("10~nm"). Elsewhere ("x~N(0,1)", "~5%", "~/data") it stays.

None of this touches a URL ("https://example.org/~ada/x--y" stays).
"""

# ruff: noqa: RUF001, RUF002, RUF003  (the tables map macros to look-alike Unicode on purpose)
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
# \"o, \"{o}, \' {e}, \"\i; letter-named accents only with braces: \v{s}, \c{c}
# ("\v s" is rare, and "\vec", "\cdot" must stay macros).
_SYMBOL_ACCENT = re.compile(r"""\\(["'`^~=.])\s*(?:\{\s*(\\i|[A-Za-z])\s*\}|(\\i|[A-Za-z]))""")
_LETTER_ACCENT = re.compile(r"\\([uvHckr])\s*\{\s*(\\i|[A-Za-z])\s*\}")

_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "aa": "å",
    "AA": "Å",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
}
# TeX swallows the space after a control word: "Stra\ss e" is "Straße".
_LETTER = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|[oOlLij])(?![A-Za-z])(?:\{\}|\s)?")

_GREEK = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "ϑ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "varrho": "ϱ",
    "sigma": "σ",
    "varsigma": "ς",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Upsilon": "Υ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
}
_SYMBOLS = {
    **_GREEK,
    "times": "×",
    "cdot": "·",
    "pm": "±",
    "mp": "∓",
    "div": "÷",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "ne": "≠",
    "approx": "≈",
    "sim": "∼",
    "simeq": "≃",
    "equiv": "≡",
    "propto": "∝",
    "ll": "≪",
    "gg": "≫",
    "infty": "∞",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "gets": "←",
    "leftrightarrow": "↔",
    "Rightarrow": "⇒",
    "Leftarrow": "⇐",
    "Leftrightarrow": "⇔",
    "implies": "⇒",
    "iff": "⇔",
    "mapsto": "↦",
    "in": "∈",
    "notin": "∉",
    "subset": "⊂",
    "subseteq": "⊆",
    "supset": "⊃",
    "supseteq": "⊇",
    "cup": "∪",
    "cap": "∩",
    "setminus": "∖",
    "emptyset": "∅",
    "varnothing": "∅",
    "forall": "∀",
    "exists": "∃",
    "neg": "¬",
    "land": "∧",
    "wedge": "∧",
    "lor": "∨",
    "vee": "∨",
    "oplus": "⊕",
    "otimes": "⊗",
    "circ": "∘",
    "star": "⋆",
    "ast": "∗",
    "dagger": "†",
    "top": "⊤",
    "perp": "⊥",
    "parallel": "∥",
    "mid": "|",
    "vert": "|",
    "lvert": "|",
    "rvert": "|",
    "Vert": "‖",
    "lVert": "‖",
    "rVert": "‖",
    "sum": "∑",
    "prod": "∏",
    "int": "∫",
    "oint": "∮",
    "partial": "∂",
    "nabla": "∇",
    "ell": "ℓ",
    "hbar": "ℏ",
    "Re": "ℜ",
    "Im": "ℑ",
    "aleph": "ℵ",
    "prime": "′",
    "langle": "⟨",
    "rangle": "⟩",
    "lceil": "⌈",
    "rceil": "⌉",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "ldots": "…",
    "dots": "…",
    "cdots": "⋯",
    "vdots": "⋮",
    "textendash": "–",
    "textemdash": "—",
    "S": "§",
    "P": "¶",
    "copyright": "©",
    "textregistered": "®",
    "texttrademark": "™",
    "textdegree": "°",
    "degree": "°",
}
# Sizing and spacing macros that say nothing to a reader.
_SILENT = frozenset(
    {
        "left",
        "right",
        "big",
        "Big",
        "bigg",
        "Bigg",
        "bigl",
        "bigr",
        "Bigl",
        "Bigr",
        "displaystyle",
        "textstyle",
        "scriptstyle",
        "limits",
        "nolimits",
        "nonumber",
        "noindent",
        "centering",
        "small",
        "footnotesize",
        "large",
        "Large",
        "tiny",
        "normalsize",
        "protect",
        "relax",
    }
)
_SPACES = frozenset(
    {
        "quad",
        "qquad",
        "enspace",
        "thinspace",
    }
)

_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ"}
# Combining marks for one-letter arguments: \hat{x} -> x̂.
_DECORATIONS = {
    "hat": "\u0302",
    "widehat": "\u0302",
    "tilde": "\u0303",
    "widetilde": "\u0303",
    "bar": "\u0304",
    "overline": "\u0305",
    "vec": "\u20d7",
    "dot": "\u0307",
    "ddot": "\u0308",
}
_FONTS = frozenset(
    {
        "textbf",
        "textit",
        "textsl",
        "textsc",
        "textrm",
        "textsf",
        "texttt",
        "textup",
        "textmd",
        "textnormal",
        "text",
        "emph",
        "mathrm",
        "mathbf",
        "mathit",
        "mathsf",
        "mathtt",
        "mathcal",
        "mathscr",
        "mathfrak",
        "mathbb",
        "mathnormal",
        "boldsymbol",
        "bm",
        "operatorname",
        "underline",
        "mbox",
        "hbox",
        "fbox",
        "url",
    }
)
# The innermost macro with one brace argument: its argument holds no braces.
_ONE_ARG = re.compile(r"\\([A-Za-z]+)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_MACRO = re.compile(r"\\([A-Za-z]+)\*?")
_ESCAPED = {"%": "%", "&": "&", "_": "_", "#": "#", "{": "\x01", "}": "\x02", "$": "\x03"}
_ESCAPE = re.compile(r"\\([%&_#{}$])")
_SPACING = re.compile(r"\\[,;:! ]|\\\\")
# Named operators are set upright with space around them: "n\log n" reads "n log n".
_OPERATOR = re.compile(
    r"(?<=[\w)\]}])\s*\\(log|ln|lg|exp|sin|cos|tan|max|min|sup|inf|lim|det|dim|ker|deg|gcd|Pr)"
    r"(?![A-Za-z])"
)
# Paired delimiters hug what they enclose, whatever the spaces that end a control word.
_DELIMITER = re.compile(
    r"\\(lVert|lvert|langle|lceil|lfloor)(?![A-Za-z])\s*"
    r"|\s*\\(rVert|rvert|rangle|rceil|rfloor)(?![A-Za-z])"
)

# $...$ is math when it opens before a non-space, closes after one and is not a price
# range ("$5 and $10", "$5-$10" stay as they are).
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(?!\s)([^$]{1,400}?)(?<!\s)\$(?!\d)|\\\((.+?)\\\)", re.DOTALL)

# References and links, with their arguments read by _expand.
_REFERENCE = re.compile(
    r"\\(cite[pt]?|cite(?:alp|alt|author|year)|nocite|ref|eqref|autoref|[cC]ref|pageref"
    r"|label|footnote|href|url)\*?(?![A-Za-z])"
)
_OPTIONAL = re.compile(r"[ \t\n]*(?:\[[^\[\]{}]{0,200}\][ \t\n]*)*")
_BRACE = re.compile(r"[{}]")
_SPACE = re.compile(r"[ \t\n]*")
_SPACE_BEFORE = " \t\n~"
_PUNCTUATION = ".,;:!?)]"
_WEB_URL = re.compile(r"https?://\S", re.IGNORECASE)
_MAX_DEPTH = 32

# Letters, with the combining marks of decomposed ones ("e\u0301").
_LETTER_OR_MARK = r"(?:[^\W\d_]|[\u0300-\u036f])"
_WORD_OR_MARK = r"(?:[^\W_]|[\u0300-\u036f])"
_TYPOGRAPHIC = re.compile(r"--|`|~")
_TYPOGRAPHY = re.compile(
    r"(?P<url>(?:https?|ftp)://[^\s{}]+|www\.[^\s{}]+)"
    r"|(?<!`)``(?=[^\s`])(?P<double>(?:[^`]|(?<!`)`(?!`)){0,400}?[^\s`])''(?!')"
    r"|(?<![`\\])`(?=[^\s`'])(?P<single>[^`\n]{0,400}?[^\s`\\])'(?![\w'])"
    rf"|(?<={_WORD_OR_MARK})(?P<dash>-{{2,3}})(?={_WORD_OR_MARK})"
    rf"|(?<=(?:{_WORD_OR_MARK}|[.,;:!?)\]}}$'\"’”%]) )(?P<spaced>-{{2,3}})(?= [\w(\[{{$\\`'\"‘“])"
    rf"|(?P<tie>(?:(?<={_LETTER_OR_MARK}{{2}})|(?<=[.$}})\]]))~(?=[^\s~/])"
    r"|(?<=\d)~(?=[^\W\d_]))"
)

_SUPERSCRIPT = str.maketrans("0123456789+-=()niTk*", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀᵏ*")
_SUBSCRIPT = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUPERSCRIPTABLE = frozenset("0123456789+-=()niTk*")
_SUBSCRIPTABLE = frozenset("0123456789+-=()aehijklmnoprstuvx")
_SCRIPT = re.compile(r"([\^_])\s*(?:\{([^{}]*)\}|(\\?[A-Za-z0-9*+\-]))")


def latex_to_unicode(text: str) -> str:
    """Readable text from LaTeX markup: `$\\mathcal{O}(n)$` -> "O(n)", `J\\"org` -> "Jörg"."""
    if "\\" not in text and "$" not in text:
        # Plain text: typography only, and its braces are the author's.
        return _typography(text) if _TYPOGRAPHIC.search(text) else text
    text = _typography(_ESCAPE.sub(lambda m: _ESCAPED[m.group(1)], text))
    text = _references(text)
    text = _MATH.sub(lambda m: _math(m.group(1) or m.group(2) or m.group(3)), text)
    text = _markup(text)
    text = text.replace("{", "").replace("}", "")
    text = text.translate({1: "{", 2: "}", 3: "$"})
    return unicodedata.normalize("NFC", text)


def _typography(text: str) -> str:
    return _TYPOGRAPHY.sub(_typographic, text)


def _typographic(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "double":
        return f"“{_typography(match.group(kind))}”"
    if kind == "single":
        return f"‘{match.group(kind)}’"
    if kind in ("dash", "spaced"):
        return "–" if len(match.group(kind)) == 2 else "—"
    if kind == "tie":
        return " "
    return match.group(0)  # a URL


def _references(text: str) -> str:
    closing: dict[int, int] = {}
    opened: list[int] = []
    for brace in _BRACE.finditer(text):
        if brace.group() == "{":
            opened.append(brace.start())
        elif opened:
            closing[opened.pop()] = brace.start()
    return _expand(text, 0, len(text), closing, 0)


def _expand(text: str, start: int, end: int, closing: dict[int, int], depth: int) -> str:
    """text[start:end] with its reference commands replaced; every character is read once
    at its own depth, since an argument's end is looked up, not searched for."""
    if depth > _MAX_DEPTH:
        return text[start:end]
    out: list[str] = []
    pos = start
    while (command := _REFERENCE.search(text, pos, end)) is not None:
        name = command.group(1)
        arguments: list[tuple[int, int]] = []
        cursor = _OPTIONAL.match(text, command.end(), end).end()  # type: ignore[union-attr]
        wanted = 2 if name == "href" else 1
        while len(arguments) < wanted:
            if arguments:  # \href{u} {t}: space between the arguments
                cursor = _SPACE.match(text, cursor, end).end()  # type: ignore[union-attr]
            if cursor >= end or text[cursor] != "{" or cursor not in closing:
                break
            arguments.append((cursor + 1, closing[cursor]))
            cursor = closing[cursor] + 1
        if len(arguments) < wanted:
            out.append(text[pos : command.end()])
            pos = command.end()
            continue
        before = text[pos : command.start()]
        trimmed = before.rstrip(_SPACE_BEFORE)
        if name == "url":
            out.append(before + text[slice(*arguments[0])].strip())
        elif name == "footnote":
            note = _expand(text, *arguments[0], closing, depth + 1).strip()
            out.append(f"{trimmed} ({note})" if note else trimmed)
        elif name == "href":
            label = _expand(text, *arguments[1], closing, depth + 1).strip()
            out.append(before + _link(text[slice(*arguments[0])].strip(), label))
        else:
            following = text[cursor] if cursor < end else ""
            gap = trimmed != before and following and following not in _PUNCTUATION
            out.append(trimmed + " " if gap and not following.isspace() else trimmed)
        pos = cursor
    out.append(text[pos:end])
    return "".join(out)


def _link(url: str, label: str) -> str:
    if not _WEB_URL.match(url):
        return label
    if not label or label == url:
        return url
    return f"{label} ({url})"


def _math(body: str) -> str:
    body = _OPERATOR.sub(r" \1", body.replace("\\|", "‖"))
    body = _DELIMITER.sub(lambda m: _SYMBOLS[m.group(1) or m.group(2)], body)
    # Symbols first, so that "^{\alpha}" is "^{α}" by the time scripts are read.
    body = _MACRO.sub(_symbol_only, body)
    return _until_stable(body, lambda t: _arguments(_SCRIPT.sub(_script, t)))


def _markup(text: str) -> str:
    text = _SPACING.sub(" ", text)
    text = _SYMBOL_ACCENT.sub(_accent, text)
    text = _LETTER_ACCENT.sub(_accent, text)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _until_stable(text, _arguments)
    return _MACRO.sub(_macro, text)


def _until_stable(text: str, step: Callable[[str], str]) -> str:
    for _ in range(8):
        changed = step(text)
        if changed == text:
            break
        text = changed
    return text


def _arguments(text: str) -> str:
    text = _FRAC.sub(lambda m: f"{_operand(m.group(1))}/{_operand(m.group(2))}", text)
    text = _SQRT.sub(lambda m: "√" + _operand(m.group(1)), text)
    return _ONE_ARG.sub(_one_argument, text)


def _operand(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 1 or text.isalnum() else f"({text})"


def _one_argument(match: re.Match[str]) -> str:
    name, argument = match.group(1), match.group(2)
    if name == "mathbb" and argument.strip() in _BLACKBOARD:
        return _BLACKBOARD[argument.strip()]
    if name in _DECORATIONS and len(argument.strip()) == 1:
        return argument.strip() + _DECORATIONS[name]
    if name in _FONTS or name in _DECORATIONS or name == "sqrt":
        return argument
    # Not one we know: left for _macro, which drops its backslash.
    return match.group(0)


def _accent(match: re.Match[str]) -> str:
    letter = match.group(2) or match.group(3) or ""
    base = "i" if letter == "\\i" else letter
    return base + _ACCENTS[match.group(1)]


def _script(match: re.Match[str]) -> str:
    mark, body = match.group(1), match.group(2) if match.group(2) is not None else match.group(3)
    body = body.lstrip("\\")
    allowed, table = (
        (_SUPERSCRIPTABLE, _SUPERSCRIPT) if mark == "^" else (_SUBSCRIPTABLE, _SUBSCRIPT)
    )
    if body and all(char in allowed for char in body):
        return body.translate(table)
    return f"{mark}{body}" if len(body) <= 1 else f"{mark}({body})"


def _symbol_only(match: re.Match[str]) -> str:
    name = match.group(1)
    return _SYMBOLS.get(name, match.group(0))


def _macro(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    if name in _SILENT:
        return ""
    if name in _SPACES:
        return " "
    return name
