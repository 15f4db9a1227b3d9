"""A small Cypher tokenizer for the query rewrites the graph stand-ins do.

It is not a parser: it splits query text into tokens so that rewrites never
touch string literals, backtick-quoted names or comments, and can find
matching brackets. Joining the `text` of all tokens gives the query back
unchanged.

Token kinds:
    ws      whitespace and comments (// ... and /* ... */)
    str     a quoted string literal, quotes included ('..' or "..")
    name    a backtick-quoted name, backticks included (`~id`)
    ident   an identifier or keyword (letters, digits, _; Unicode letters too)
    num     a number literal
    param   a parameter ($name or $`name`)
    op      punctuation; multi-character operators are one token
            (->, <-, <>, <=, >=, +=, =~, ..)
"""
from __future__ import annotations

from dataclasses import dataclass

_MULTI_OPS = ("->", "<-", "<>", "<=", ">=", "+=", "=~", "..")


@dataclass
class Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper()

    def is_kw(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words

    @property
    def bare(self) -> str:
        """The name without backticks (for ident/name tokens)."""
        if self.kind == "name":
            return self.text[1:-1].replace("``", "`")
        return self.text


class TokenizeError(ValueError):
    pass


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            j = i + 1
            while j < n and query[j].isspace():
                j += 1
            tokens.append(Token("ws", query[i:j]))
            i = j
        elif c == "/" and query.startswith("//", i):
            j = query.find("\n", i)
            j = n if j < 0 else j
            tokens.append(Token("ws", query[i:j]))
            i = j
        elif c == "/" and query.startswith("/*", i):
            j = query.find("*/", i + 2)
            if j < 0:
                raise TokenizeError("unterminated comment")
            tokens.append(Token("ws", query[i:j + 2]))
            i = j + 2
        elif c in "'\"":
            j = i + 1
            while j < n and query[j] != c:
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise TokenizeError("unterminated string literal")
            tokens.append(Token("str", query[i:j + 1]))
            i = j + 1
        elif c == "`":
            j = i + 1
            while True:
                j = query.find("`", j)
                if j < 0:
                    raise TokenizeError("unterminated backtick name")
                if query.startswith("``", j):
                    j += 2
                    continue
                break
            tokens.append(Token("name", query[i:j + 1]))
            i = j + 1
        elif c == "$":
            j = i + 1
            if j < n and query[j] == "`":
                k = query.find("`", j + 1)
                if k < 0:
                    raise TokenizeError("unterminated parameter name")
                j = k + 1
            else:
                while j < n and (query[j].isalnum() or query[j] == "_"):
                    j += 1
            tokens.append(Token("param", query[i:j]))
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and (query[j].isalnum() or query[j] in "._"):
                # "1..3" is a range, not a float
                if query[j] == "." and query.startswith("..", j):
                    break
                if query[j] in "eE" and j + 1 < n and query[j + 1] in "+-":
                    j += 2
                    continue
                j += 1
            tokens.append(Token("num", query[i:j]))
            i = j
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (query[j].isalnum() or query[j] == "_"):
                j += 1
            tokens.append(Token("ident", query[i:j]))
            i = j
        else:
            for op in _MULTI_OPS:
                if query.startswith(op, i):
                    tokens.append(Token("op", op))
                    i += len(op)
                    break
            else:
                tokens.append(Token("op", c))
                i += 1
    return tokens


def untokenize(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens)


def next_sig(tokens: list[Token], i: int) -> int:
    """Index of the first non-whitespace token at or after i (len if none)."""
    while i < len(tokens) and tokens[i].kind == "ws":
        i += 1
    return i


def prev_sig(tokens: list[Token], i: int) -> int:
    """Index of the last non-whitespace token at or before i (-1 if none)."""
    while i >= 0 and tokens[i].kind == "ws":
        i -= 1
    return i


_OPEN = {"(": ")", "[": "]", "{": "}"}


def matching(tokens: list[Token], i: int) -> int:
    """Index of the bracket closing the one at tokens[i] (-1 if unbalanced)."""
    stack = []
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t.kind != "op":
            continue
        if t.text in _OPEN:
            stack.append(_OPEN[t.text])
        elif t.text in (")", "]", "}"):
            if not stack or stack.pop() != t.text:
                return -1
            if not stack:
                return j
    return -1


def rewrite_function_calls(tokens: list[Token], name: str, make, record=None) -> list[Token]:
    """Replace every call `name(<args>)` (case-insensitive, not a property
    access like x.name(...)) with the tokens of make(args_text).

    make may return None to keep a call unchanged. When `record` is a list,
    (new_text, original_text) pairs are appended to it, so that result column
    names (FalkorDB names a column by its expression text) can be mapped back
    with restore_names()."""
    out: list[Token] = []
    i = 0
    lname = name.lower()
    while i < len(tokens):
        t = tokens[i]
        if t.kind == "ident" and t.text.lower() == lname:
            p = prev_sig(tokens, i - 1)
            j = next_sig(tokens, i + 1)
            if (j < len(tokens) and tokens[j].kind == "op" and tokens[j].text == "("
                    and not (p >= 0 and tokens[p].kind == "op" and tokens[p].text == ".")):
                k = matching(tokens, j)
                if k > 0:
                    inner = rewrite_function_calls(tokens[j + 1:k], name, make, record)
                    new = make(untokenize(inner).strip())
                    if new is not None:
                        if record is not None:
                            record.append((new, untokenize(tokens[i:k + 1])))
                        out.extend(tokenize(new))
                        i = k + 1
                        continue
        out.append(t)
        i += 1
    return out


def restore_names(columns: list[str], record) -> list[str]:
    """Undo recorded rewrites in result column names (latest rewrite first)."""
    if not record:
        return columns
    out = []
    for col in columns:
        for new, original in reversed(record):
            if new in col:
                col = col.replace(new, original)
        out.append(col)
    return out


# ---------------------------------------------------------------------------
# Clauses and patterns
# ---------------------------------------------------------------------------

CLAUSE_WORDS = {"MATCH", "OPTIONAL", "CREATE", "MERGE", "WITH", "RETURN", "WHERE", "SET",
                "DELETE", "DETACH", "REMOVE", "UNWIND", "FOREACH", "CALL", "UNION", "ORDER",
                "SKIP", "LIMIT", "YIELD", "ON"}
# A pattern may follow these tokens; anything else before "(" is an expression.
PATTERN_PREV_WORDS = {"MATCH", "CREATE", "MERGE", "WHERE", "AND", "OR", "XOR", "NOT", "EXISTS"}


def is_keyword_at(tokens, i, words) -> bool:
    """tokens[i] is one of `words` used as a keyword (not n.set, {set: 1}, :Set)."""
    t = tokens[i]
    if not t.is_kw(*words):
        return False
    p = prev_sig(tokens, i - 1)
    if p >= 0 and tokens[p].kind == "op" and tokens[p].text in (".", ":"):
        return False
    n = next_sig(tokens, i + 1)
    if n < len(tokens) and tokens[n].kind == "op" and tokens[n].text == ":":
        return False
    return True


class Pattern:
    """A node "(v:L {..})" or relationship "[v:T {..}]" pattern in token indices."""

    def __init__(self, kind, start, end, var, label_end, has_labels, map_span, param, clause):
        self.kind = kind            # "node" | "rel"
        self.start = start          # index of ( or [
        self.end = end              # index of ) or ]
        self.var = var              # index of the variable token or None
        self.label_end = label_end  # insert labels before this index
        self.has_labels = has_labels
        self.map_span = map_span    # (index of {, index of }) or None
        self.param = param          # index of a $param used as the property map, or None
        self.clause = clause        # CREATE / MERGE / MATCH / ...


def _parse_pattern(tokens, start, kind):
    """Return (end, var, label_end, has_labels, map_span, param) if tokens[start] opens
    a node/relationship pattern with nothing but var, labels/types, a range and
    a map inside; None otherwise."""
    close = ")" if kind == "node" else "]"
    end = matching(tokens, start)
    if end < 0:
        return None
    i = next_sig(tokens, start + 1)
    var = None
    if i < end and tokens[i].kind in ("ident", "name"):
        var = i
        i = next_sig(tokens, i + 1)
    has_labels = False
    label_end = (var + 1) if var is not None else start + 1
    while i < end and tokens[i].kind == "op" and tokens[i].text in (":", "|", "&"):
        j = next_sig(tokens, i + 1)
        if j >= end or tokens[j].kind not in ("ident", "name"):
            return None
        has_labels = True
        label_end = j + 1
        i = next_sig(tokens, j + 1)
    if kind == "rel" and i < end and tokens[i].kind == "op" and tokens[i].text == "*":
        i = next_sig(tokens, i + 1)
        while i < end and (tokens[i].kind == "num" or (tokens[i].kind == "op" and tokens[i].text == "..")):
            i = next_sig(tokens, i + 1)
    map_span = param = None
    if i < end and tokens[i].kind == "op" and tokens[i].text == "{":
        m_end = matching(tokens, i)
        if m_end < 0 or m_end > end:
            return None
        map_span = (i, m_end)
        i = next_sig(tokens, m_end + 1)
    elif i < end and tokens[i].kind == "param":
        param = i
        i = next_sig(tokens, i + 1)
    if i != end or tokens[end].text != close:
        return None
    return end, var, label_end, has_labels, map_span, param


def map_entries(tokens, span):
    """[(key, value_start, value_end_exclusive)] of a literal map {k: v, ...}."""
    start, end = span
    entries = []
    i = next_sig(tokens, start + 1)
    while i < end:
        key_tok = tokens[i]
        if key_tok.kind not in ("ident", "name", "str"):
            return entries
        key = key_tok.bare if key_tok.kind != "str" else key_tok.text[1:-1]
        colon = next_sig(tokens, i + 1)
        if colon >= end or tokens[colon].text != ":":
            return entries
        v = next_sig(tokens, colon + 1)
        j, depth = v, 0
        while j < end:
            t = tokens[j]
            if t.kind == "op" and t.text in "([{":
                depth += 1
            elif t.kind == "op" and t.text in ")]}":
                depth -= 1
            elif depth == 0 and t.kind == "op" and t.text == ",":
                break
            j += 1
        entries.append((key, v, j))
        i = next_sig(tokens, j + 1)
    return entries


def find_patterns(tokens):
    patterns = []
    clause = None
    for i, t in enumerate(tokens):
        if t.kind == "ident" and t.upper in CLAUSE_WORDS and is_keyword_at(tokens, i, CLAUSE_WORDS):
            word = t.upper
            if word == "CREATE":
                p = prev_sig(tokens, i - 1)
                clause = "ON CREATE" if p >= 0 and tokens[p].is_kw("ON") else "CREATE"
            elif word == "OPTIONAL":
                clause = "MATCH"
            else:
                clause = word
            continue
        if t.kind != "op" or t.text not in ("(", "["):
            continue
        p = prev_sig(tokens, i - 1)
        prev = tokens[p] if p >= 0 else None
        if t.text == "(":
            if prev is not None and not (
                    (prev.kind == "op" and prev.text in (",", "-", "->", "<-", "=", "(", "[", ">", "<"))
                    or (prev.kind == "ident" and prev.upper in PATTERN_PREV_WORDS)):
                continue
            parsed = _parse_pattern(tokens, i, "node")
            if parsed:
                patterns.append(Pattern("node", i, *parsed, clause))
        else:
            if prev is None or prev.kind != "op" or prev.text not in ("-", "<-"):
                continue
            parsed = _parse_pattern(tokens, i, "rel")
            if parsed:
                patterns.append(Pattern("rel", i, *parsed, clause))
    return patterns


def clause_end(tokens, start):
    """Index where the clause starting at `start` ends (next clause keyword at
    the same depth, `;`, a closing bracket of an enclosing group, `|`, or the end)."""
    depth = 0
    i = start + 1
    while i < len(tokens):
        t = tokens[i]
        if t.kind == "op":
            if t.text in "([{":
                depth += 1
            elif t.text in ")]}":
                if depth == 0:
                    return i
                depth -= 1
            elif depth == 0 and t.text in (";", "|"):
                return i
        elif depth == 0 and t.kind == "ident" and t.upper in CLAUSE_WORDS and t.upper != "OPTIONAL" \
                and is_keyword_at(tokens, i, CLAUSE_WORDS):
            return i
        i += 1
    return len(tokens)


def expand_create_params(query: str) -> str:
    """`CREATE (n:L $props)` -> `CREATE (n:L) SET n += $props`.

    FalkorDB refuses a parameter used as the property map of a pattern
    ("Encountered unhandled type in inlined properties"); Neo4j and Neptune
    accept it in CREATE. Anonymous elements get a variable (__c0, __c1, ...).
    MERGE patterns are left alone (their map is a match condition)."""
    if "$" not in query:
        return query
    tokens = tokenize(query)
    pats = [p for p in find_patterns(tokens) if p.clause == "CREATE" and p.param is not None]
    if not pats:
        return query
    creates = [i for i, t in enumerate(tokens) if t.is_kw("CREATE") and is_keyword_at(tokens, i, {"CREATE"})
               and not (prev_sig(tokens, i - 1) >= 0 and tokens[prev_sig(tokens, i - 1)].is_kw("ON"))]
    inserts: dict[int, list[str]] = {}
    dropped: set[int] = set()
    sets: dict[int, list[str]] = {}
    for n, p in enumerate(pats):
        var = tokens[p.var].text if p.var is not None else None
        if var is None:
            var = f"__c{n}"
            inserts.setdefault(p.start + 1, []).append(var)
        dropped.add(p.param)
        kw = max(k for k in creates if k < p.start)
        sets.setdefault(kw, []).append(f"{var} += {tokens[p.param].text}")
    for kw, items in sets.items():
        inserts.setdefault(clause_end(tokens, kw), []).append(" SET " + ", ".join(items) + " ")
    out = []
    for i, t in enumerate(tokens):
        out.extend(inserts.get(i, ()))
        if i not in dropped:
            out.append(t.text)
    out.extend(inserts.get(len(tokens), ()))
    return "".join(out)
