"""Java-regex and LIKE translation (spec 2.4, 6.5)."""

import pytest

from spl_lite.core.regex import as_pattern, compile_java, like_to_regex


def test_named_group_becomes_python_syntax():
    pattern = compile_java(r"(?<field0>[^\\]+)$")
    assert pattern.search(r"c:\program files\microsoft office\winword.exe").group("field0") == "winword.exe"


def test_lookbehinds_are_left_alone():
    assert compile_java(r"(?<=a)b").pattern == r"(?<=a)b"
    assert compile_java(r"(?<!a)b").search("cb")
    # A quantified look-around, as in the first-time-seen command-line detection.
    assert compile_java(r"(?<=\s)+x").search(" x")


def test_escaped_slash_is_a_slash():
    assert compile_java(r".* \/[cC] .*").search("cmd /c dir")
    assert compile_java(r"[\/]").search("/")


def test_inline_flag_not_at_start_applies_from_there_on():
    pattern = compile_java(r"^(?i)ntkd\.exe")
    assert pattern.search("NTKD.EXE")
    assert not compile_java(r"a(?i)b").search("Ab")
    assert compile_java(r"a(?i)b").search("aB")


def test_inline_flag_keeps_alternation_structure():
    pattern = compile_java(r"a(?i)b|c")
    assert pattern.fullmatch("aB")
    assert pattern.fullmatch("C")
    assert not pattern.fullmatch("aC")


def test_inline_flag_ends_with_its_group():
    pattern = compile_java(r"(a(?i)b)c")
    assert pattern.fullmatch("aBc")
    assert not pattern.fullmatch("aBC")


def test_corpus_style_leading_flag():
    # As in Java, `(x86)` is a group here, so the detection's pattern needs "files x86".
    pattern = compile_java(r"(?i)\\program files (x86)")
    assert pattern.search(r"C:\Program Files x86\x")
    assert not pattern.search(r"C:\Program Files (x86)\x")


def test_scoped_flags_and_negation():
    assert compile_java(r"(?i:a)b").fullmatch("Ab")
    assert not compile_java(r"(?i)a(?-i)b").fullmatch("AB")
    assert compile_java(r"(?i)a(?-i)b").fullmatch("Ab")


def test_trailing_flags():
    assert compile_java("teardown.*inside", "i").search("TEARDOWN x INSIDE")
    assert compile_java("^b", "m").search("a\nb")
    assert compile_java("a.b", "s").search("a\nb")
    assert compile_java("a b", "x").search("ab")
    with pytest.raises(ValueError, match="unknown regex flag `g`"):
        compile_java("a", "g")


def test_java_classes_are_ascii_unless_unicode_is_asked_for():
    assert not compile_java(r"\w").search("é")
    assert not compile_java("(?i)é").search("É")
    assert compile_java(r"(?U)\w").search("é")
    assert compile_java("(?iu)é").search("É")


def test_java_only_escapes():
    assert compile_java(r"\Qa.b\E").search("a.b")
    assert not compile_java(r"\Qa.b\E").search("axb")
    assert compile_java(r"(?<n>a)\k<n>").fullmatch("aa")
    assert compile_java(r"\x{41}\0101").fullmatch("AA")
    assert compile_java(r"\p{Alpha}+\P{Digit}").fullmatch("ab_")
    assert compile_java(r"[\p{Digit}x]+").fullmatch("1x2")
    assert compile_java(r"a\h\Rb").fullmatch("a \r\nb")
    assert compile_java(r"ab\z").search("ab")
    assert not compile_java(r"ab\z").search("ab\n")
    assert compile_java(r"ab\Z").search("ab\n")


def test_possessive_and_atomic_groups_compile():
    assert compile_java(r"a*+b").fullmatch("aab")
    assert not compile_java(r"(?>a+)a").search("aaa")


def test_leading_bracket_in_class_is_literal():
    assert compile_java("[]a]+").fullmatch("]a")


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("(", "missing \\)"),
        (r"\G", r"\\G is not supported"),
        ("a\\", "trailing backslash"),
        (r"\p{Nonsense}", r"\\p\{Nonsense\} is not supported"),
        (r"[\p{L}\W]", r"\\W in a class with a Unicode property"),
        (r"\i", "bad escape"),
        ("(?X)a", "unknown inline flag"),
    ],
)
def test_invalid_patterns_raise_value_error(pattern, message):
    with pytest.raises(ValueError, match=message):
        compile_java(pattern)


def test_compile_is_cached():
    assert compile_java("a+b") is compile_java("a+b")


def test_as_pattern():
    literal = compile_java("x")
    assert as_pattern(literal) is literal
    assert as_pattern("(?<g>y)").search("y").group("g") == "y"
    with pytest.raises(TypeError):
        as_pattern(5)
    with pytest.raises(TypeError):
        as_pattern(like_to_regex("x%"))  # a LIKE pattern (`re`) is no Java regex


def test_compiled_patterns_are_named_regex_values():
    from spl_lite.core.values import type_name

    assert type_name(compile_java("a+")) == type_name(like_to_regex("a%")) == "regex"
    assert type_name("a+") == "string"


@pytest.mark.parametrize(
    "pattern, text, expected",
    [
        ("7z%", "7z.exe", True),
        ("7z%", "x7z.exe", False),
        ("%cmd.exe", "c:\\windows\\cmd.exe", True),
        ("%cmd.exe", "cmd.exe.bak", False),
        ("a_c", "abc", True),
        ("a_c", "abbc", False),
        ("%", "", True),
        ("a.c", "abc", False),  # `.` is literal
        ("%\\windows\\system32%", "c:\\windows\\system32\\x.exe", True),  # `\` is literal
        ("%\\b", "a\\b", True),
        ("CMD.EXE", "cmd.exe", False),  # case-sensitive
        ("a%", "a\nb", True),  # `%` spans newlines
        ("[ab]%", "[ab]c", True),  # brackets are literal
    ],
)
def test_like_to_regex(pattern, text, expected):
    assert (like_to_regex(pattern).match(text) is not None) is expected
    assert (like_to_regex(pattern).search(text) is not None) is expected


# ---- Java line terminators, Unicode properties, class intersections (issue 14, item 16) ----
def test_dot_does_not_match_java_line_terminators():
    for terminator in ("\n", "\r", "\x85", "\u2028", "\u2029"):
        assert not compile_java("a.b").search(f"a{terminator}b")
        assert compile_java("a.b", "s").search(f"a{terminator}b")
        assert compile_java("(?s)a.b").search(f"a{terminator}b")
    assert compile_java("(?d)a.b").search("a\rb")  # UNIX_LINES: only \n ends a line


def test_dollar_matches_before_a_final_java_line_terminator():
    for ending in ("\n", "\r\n", "\r", "\u2028"):
        assert compile_java("exe$").search(f"cmd.exe{ending}")
        assert compile_java(r"exe\Z").search(f"cmd.exe{ending}")
    assert not compile_java("exe$").search("cmd.exe\n\n")
    assert not compile_java(r"exe\z").search("cmd.exe\r\n")
    assert compile_java("^b", "m").search("a\r\nb")


def test_word_boundary_stays_on_ascii_word_characters():
    assert compile_java(r"\bt\b").search("can't")  # not Unicode's default word boundaries
    assert compile_java(r"\Bb").search("ab")
    assert not compile_java(r"\bb").search("ab")


def test_unicode_properties():
    assert compile_java(r"\p{L}+").fullmatch("héllo")
    assert compile_java(r"\p{IsL}\p{Lu}").fullmatch("éΩ")
    assert compile_java(r"\p{IsLatin}+").fullmatch("héllo")
    assert compile_java(r"\p{InGreek}").fullmatch("Ω")
    assert compile_java(r"\p{script=Latin}").fullmatch("é")
    assert compile_java(r"\p{javaLowerCase}").fullmatch("é")
    assert compile_java(r"\pL\PL").fullmatch("é1")
    assert compile_java(r"[\p{L}\d]+").fullmatch("é1")
    assert not compile_java(r"[\p{L}\d]").fullmatch("٣")  # \d stays ASCII beside a property
    assert not compile_java(r"\w").search("é")  # and outside it


def test_posix_classes_stay_ascii():
    assert compile_java(r"\p{Alpha}+").fullmatch("abc")
    assert not compile_java(r"\p{Alpha}").fullmatch("é")
    assert compile_java(r"[\p{Alpha}\p{Digit}]+").fullmatch("a1")


def test_class_intersection_and_union():
    assert compile_java("[a-z&&[^b]]+").fullmatch("acd")
    assert not compile_java("[a-z&&[^b]]").fullmatch("b")
    assert compile_java("[a-z&&[def]]+").fullmatch("fed")
    assert not compile_java("[a-z&&[def]]").fullmatch("a")
    assert compile_java("[a-d[m-p]]+").fullmatch("amp")
    assert not compile_java("[a-d[m-p]]").fullmatch("e")
    assert compile_java("[a&b]+").fullmatch("a&b")  # a single & is a literal
    assert compile_java("[|~]+").fullmatch("|~")


# ---- a time limit per match (issue 14, item 6) ----
def test_a_pattern_that_backtracks_forever_gives_up(monkeypatch):
    import time

    from spl_lite.core import regex as java_regex

    monkeypatch.setattr(java_regex, "MATCH_SECONDS", 0.2)
    bomb = compile_java("(a|aa)+$")
    started = time.process_time()  # the work done, which a loaded machine does not stretch as it does wall time
    with pytest.raises(java_regex.RegexTimeout, match=r"regex /\(a\|aa\)\+\$/ gave up after 0.2 s on a 41-character"):
        java_regex.search(bomb, "a" * 40 + "!")
    with pytest.raises(java_regex.RegexTimeout):
        java_regex.sub(bomb, "x", "a" * 40 + "!")
    assert time.process_time() - started < 2
    assert java_regex.search(bomb, "aaa").group() == "aaa"


def test_a_waiting_stop_shares_one_budget_among_the_matches_left(monkeypatch):
    import time

    from spl_lite.core import regex as java_regex

    bomb = compile_java("(a|aa)+$")
    monkeypatch.setattr(java_regex, "STOP_SECONDS", 0.3)
    # monkeypatch puts the engine's probe back afterwards: other tests in this process need it.
    monkeypatch.setattr(java_regex, "_stop_probe", lambda: True)
    monkeypatch.setattr(java_regex, "_stop_seen", None)
    started = time.process_time()  # work done (CPU), not wall time: the bound holds on a loaded machine
    for _ in range(20):  # 20 x 0.5 s without the stop
        with pytest.raises(java_regex.RegexTimeout):
            java_regex.search(bomb, "a" * 40 + "!")
    assert time.process_time() - started < 1.5
    monkeypatch.setattr(java_regex, "_stop_probe", lambda: False)
    assert java_regex.search(compile_java("b"), "abc")


# Patterns that run without the clock over short texts (loops of one character, at most one on any
# path) and patterns that keep it (a repeated group, two loops in a row, a loop in a lookaround, a
# back reference, syntax Python's parser does not read).
UNCLOCKED = [r"\d+", r"\s(--?\w+)|(\/\w+)", r"\w:\\[^\s]+", r"(?i)mimikatz", r"^.*\.exe$", r"a\b",
             r"[a-z]{2,}\.(exe|dll)", r"\s+$", r"(?i)[a-z]+\d", "x(y)?z"]
CLOCKED = [r"(a+)+b", r"(a|aa)+$", r"\d+\d+x", r"(\d{1,3}\.){3}\d{1,3}", r"(?:abc|de)+", r"x(?=a+)",
           r"\p{L}+", r"(a)\1", r"(\w+|x)\d+", r"[a-z&&[^b]]+"]


@pytest.mark.parametrize("pattern", UNCLOCKED + CLOCKED)
def test_only_patterns_that_cannot_backtrack_far_run_without_the_clock(pattern):
    import time

    from spl_lite.core import regex as java_regex

    compiled = compile_java(pattern)
    length = java_regex._UNCLOCKED.get(compiled)
    assert (length is not None) == (pattern in UNCLOCKED)
    if length is not None:
        # The worst texts for a loop: long runs it takes, then a character that makes it fail.
        # Well within the limit, which therefore could not have cut in (CPU, as the tests above).
        for text in ("a" * length + "!", " " * length + "x", "1" * (length - 1) + "x"):
            started = time.process_time()
            found, replaced = java_regex.search(compiled, text), java_regex.sub(compiled, "N", text)
            expected = compiled.search(text, timeout=60)
            assert (found and found.span()) == (expected and expected.span())
            assert replaced == compiled.sub("N", text, timeout=60)
            assert time.process_time() - started < java_regex.MATCH_SECONDS


def test_a_waiting_stop_times_the_matches_of_short_texts_too(monkeypatch):
    from spl_lite.core import regex as java_regex

    monkeypatch.setattr(java_regex, "_stop_probe", lambda: True)
    monkeypatch.setattr(java_regex, "_stop_seen", None)
    monkeypatch.setattr(java_regex, "STOP_SECONDS", 0.0)  # the budget is spent: every timed match stops
    with pytest.raises(java_regex.RegexTimeout, match="cut short because the run was stopped"):
        java_regex.sub(compile_java(r"\d+"), "N", "a1")


REQUIRED_TEXT_PATTERNS = [
    ("(?i)kerberos::ptt", ""), ("Invoke-Mimikatz", ""), ("mimikatz", "i"), ("(?i)wscript.exe", ""),
    (r"(?i)\\windows\\system32", ""), (r"^(?i)ntkd\.exe", ""), (r"(?i)cachedump\d{0,2}.exe", ""),
    (r"(?i)all\s+\-oA\s+\-output", ""), ("ab?c", ""), ("abc+d", ""), ("x{2}yz", ""), ("abc*?de", ""),
    ("(a|b)c", ""), ("[ab]cd", ""), (r"\Qa.b\E", ""), ("a b", "x"), ("", ""), ("(?i)k", ""),
    (r"(?i)rundll32.exe[^\\]+\.dll", ""), (r"(?i)\\windows\\(syswow64|system32)\\", ""),
    (r"\-dbpath[\s;:\.\|]+", "i"), (r"(?i)C:\\Windows\\[a-zA-Z]{1,8}\.bat", ""), ("(?:ab|cd)ef", ""),
    ("x[]a]yz", ""), ("ab(?=cd)cd", ""), ("ab(?i)cd", ""), ("(?i:ab)cd", ""), ("(a(?i)b)cd", ""), ("[a[b]]cd", ""),
    ("ab(c", ""), ("ab[c", ""), ("ab|cd", ""),
]
REQUIRED_TEXT_VALUES = [
    "cmd /c KERBEROS::PTT x", "kerberos::pt", "C:\\Windows\\System32\\wscript.exe", "WSCRIPTxEXE", "ntkd.exe",
    "x ntkd.exe", "cachedump12.exe", "CACHEDUMP.EXE", "all  -oA -output", "ac abc abbc", "abcccd abd",
    "xxyz", "abde abcde", "bc", "bcd", "a.b", "a b", "", "\u212a", "\u0130nvoke", "K\u212aerberos::ptt",
    "invoke-mimikatz", "Invoke-Mimikatz \u00e9", "mimi\u212aatz",
    "rundll32.exe x.dll", "RUNDLL32xEXE\\foo.DLL", "rundll32.exe\\x.dll", "C:\\WINDOWS\\SysWow64\\x",
    "\\windows\\system32", "-DBPATH ;", "-dbpath", "c:\\windows\\abc.bat", "C:\\Windows\\abcdefghij.bat",
    "abef cdef", "ef", "x]yz", "xayz", "abcd", "abCD", "ABcd", "cd", "AbCD",
]


@pytest.mark.parametrize("pattern, flags", REQUIRED_TEXT_PATTERNS)
def test_required_text_is_in_every_match_and_whole_means_containment(pattern, flags):
    """The text is found (ignoring ASCII case when said) in every ASCII value the regex matches, and
    where it is the whole pattern, the regex matches exactly the values containing it."""
    from spl_lite.core.regex import required_text

    found = required_text(pattern, flags)
    if found is None:
        return
    text, ignore_case, whole = found
    compiled = compile_java(pattern, flags)
    for value in REQUIRED_TEXT_VALUES:
        contains = (text.lower() in value.lower()) if ignore_case else (text in value)
        if ignore_case and not value.isascii():
            continue  # str.lower() folds more than ASCII; such values go to the regex
        matched = compiled.search(value) is not None
        assert contains or not matched, (pattern, value)
        if whole:
            assert contains == matched, (pattern, value)


def test_required_text_of_plain_and_other_patterns():
    from spl_lite.core.regex import required_text

    assert required_text("(?i)kerberos::ptt") == ("kerberos::ptt", True, True)
    assert required_text(r"(?i)\\windows\\system32") == ("\\windows\\system32", True, True)
    assert required_text("(?i)wscript.exe") == ("wscript", True, False)
    assert required_text("ab?cdef") == ("cdef", False, False)
    assert [required_text(p) for p in ("(a|b)c", "[ab]c", r"\Qab\E", "a.b", "é")] == [None] * 5
    assert required_text(r"(?i)rundll32.exe[^\\]+\.dll") == ("rundll32", True, False)
    assert required_text(r"(?i)\\windows\\(syswow64|system32)\\") == ("\\windows\\", True, False)
    assert required_text("[ab]cd") == ("cd", False, False)
    assert [required_text(p) for p in ("ab(?i)cd", "[a[b]]cd", "ab|cd", "ab(c", "ab[c")] == [None] * 5
    assert required_text("abc", "x") is None


@pytest.mark.parametrize("pattern", ["%delete%", "7z%", "%powershell.exe", "exact", "", "%", "%%", "a%b%c", "%ab%ba%",
                                     "a%a", "%a%a%", "x_y"])
def test_like_matcher_agrees_with_the_like_regex(pattern):
    from spl_lite.core.regex import like_matcher

    matcher = like_matcher(pattern)
    if matcher is None:
        assert "_" in pattern
        return
    texts = ["", "a", "aa", "aba", "abab", "abcba", "aXbYc", "abc", "ac", "7zip", "x7z", "delete", "sc delete x",
             "C:\\powershell.exe", "powershell.exE", "exact", "exactly", "%", "x_y", "ba ab", "\u00e9a"]
    for text in texts:
        assert matcher(text) is (like_to_regex(pattern).match(text) is not None), (pattern, text)
