"""Grades `tokenizer` (contract section 11) against an independent naive BPE trainer
(reference/tokenizer.py: recounts every pair each round, vectorised with numpy)."""

from __future__ import annotations

from functools import lru_cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlkata.paths import ROOT
from reference import tokenizer as ref
from tests.helpers import assert_no_banned_apis, check_exact, check_merges, describe
from tests.strategies import bpe_training_texts, unicode_texts

EXERCISE = "tokenizer"
CORPUS_CHARS = 20_000  # the training slice of tinyshakespeare: fast enough for a naive trainer
HELD_OUT_CHARS = 1_000  # the text right after it, never seen in training
CORPUS_VOCAB = 400  # 144 merges
# Repeated multi-byte text, so that merges join (and split) the bytes of UTF-8 characters.
UNICODE_SAMPLE = "héllo wörld 👋🏽 naïve café 日本語のテキスト e\u0301 ñ 🇫🇷 \u0915\u093f — €5 " * 8
UNICODE_VOCAB = 320


@lru_cache(maxsize=None)
def corpus() -> str | None:
    """The first CORPUS_CHARS + HELD_OUT_CHARS characters of tinyshakespeare, or None."""
    for path in (ROOT / "data" / "tinyshakespeare.txt", ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"):
        if path.is_file():
            with open(path, encoding="utf-8") as f:
                return f.read(CORPUS_CHARS + HELD_OUT_CHARS)
    return None


def shakespeare() -> tuple[str, str]:
    """(training slice, held-out slice); skips when the corpus is not installed."""
    text = corpus()
    if text is None:
        pytest.skip("data/tinyshakespeare.txt is missing (the repository ships it; restore it with git)")
    return text[:CORPUS_CHARS], text[CORPUS_CHARS:]


TRAINING_TEXTS = {"shakespeare": lambda: (shakespeare()[0], CORPUS_VOCAB),
                  "unicode": lambda: (UNICODE_SAMPLE, UNICODE_VOCAB)}
_trained: dict[tuple[object, str], object] = {}


def trained(module, name: str):
    """A `module.BPETokenizer` trained on one of TRAINING_TEXTS (once per module and text)."""
    key = (module, name)
    if key not in _trained:
        text, vocab_size = TRAINING_TEXTS[name]()
        tok = module.BPETokenizer()
        tok.train(text, vocab_size)
        _trained[key] = tok
    return _trained[key]


@lru_cache(maxsize=None)
def reference_merges(text: str, vocab_size: int) -> dict[tuple[int, int], int]:
    return ref.train_merges(text, vocab_size)


def train_run(text: str, vocab_size: int):
    """run(module): the merges a fresh `module.BPETokenizer` learns from `text`."""
    def run(module):
        tok = module.BPETokenizer()
        tok.train(text, vocab_size)
        return tok.merges
    return run


def merges_of(tok) -> dict[tuple[int, int], int]:
    """The tokenizer's own merges, checked to be usable by the reference encoder/decoder."""
    merges = getattr(tok, "merges", None)
    ok = isinstance(merges, dict) and all(
        isinstance(k, tuple) and len(k) == 2 and all(isinstance(i, int) for i in (*k, v)) for k, v in merges.items())
    assert ok, f"BPETokenizer.merges must be a dict {{(a, b): new_id}} of ints after train(); it is {describe(merges)}"
    return merges


def short(text: str, limit: int = 30) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


@pytest.mark.target("BPETokenizer.train")
class TestTrain:
    def test_matches_reference_on_shakespeare(self, ex):
        """learns the same merges as a naive reference trainer on 20 KB of tinyshakespeare (vocab 400)"""
        text, _ = shakespeare()
        check_merges(ex, lambda module: trained(module, "shakespeare").merges, reference_merges(text, CORPUS_VOCAB),
                     text, call=f"BPETokenizer().train(tinyshakespeare[:{CORPUS_CHARS}], vocab_size={CORPUS_VOCAB})")

    def test_ties_go_to_the_smallest_pair(self, ex):
        """equally frequent pairs: the smallest (a, b) is merged first ("aaabdaaabac")"""
        text = "aaabdaaabac"  # after aa -> 256, both (97, 98) 'ab' and (256, 97) 'aaa' occur twice
        expected = {(97, 97): 256, (97, 98): 257, (256, 257): 258}
        check_merges(ex, train_run(text, 259), expected, text, call=f"BPETokenizer().train({text!r}, vocab_size=259)")

    @pytest.mark.parametrize("text, vocab_size, expected", [
        ("aaa", 258, {(97, 97): 256, (256, 97): 257}),  # "aaa" -> [aa, a]: left to right, no overlap
        ("aaaa", 258, {(97, 97): 256, (256, 256): 257}),
        ("aaaaab", 260, {(97, 97): 256, (97, 98): 257, (256, 256): 258, (258, 257): 259}),  # [aa, aa, a, b]
    ])
    def test_runs_of_one_byte(self, ex, text, vocab_size, expected):
        """runs like "aaaa": the pair (a, a) counts at every position and merges left to right without overlap"""
        check_merges(ex, train_run(text, vocab_size), expected, text,
                     call=f"BPETokenizer().train({text!r}, vocab_size={vocab_size})")

    @given(text=bpe_training_texts(), extra=st.integers(0, 30))
    def test_matches_reference_on_small_texts(self, ex, text, extra):
        """matches the reference on short texts full of repeats and ties (counts kept exact after every merge)"""
        vocab_size = 256 + extra
        check_merges(ex, train_run(text, vocab_size), reference_merges(text, vocab_size), text,
                     call=f"BPETokenizer().train({short(text)}, vocab_size={vocab_size})")

    def test_vocab_256_learns_nothing(self, ex):
        """vocab_size=256 learns no merges (the 256 byte ids are the whole vocabulary)"""
        check_merges(ex, train_run("hello hello", 256), {}, "hello hello",
                     call="BPETokenizer().train('hello hello', vocab_size=256)")

    @pytest.mark.parametrize("text, expected", [("ab", {(97, 98): 256}), ("x", {}), ("", {})])
    def test_stops_when_no_pair_is_left(self, ex, text, expected):
        """stops early, without error, once the text is a single token (fewer than vocab_size - 256 merges)"""
        check_merges(ex, train_run(text, 300), expected, text, call=f"BPETokenizer().train({text!r}, vocab_size=300)")

    @pytest.mark.parametrize("vocab_size", [255, 0, -1])
    def test_small_vocab_raises(self, ex, vocab_size):
        """ValueError when vocab_size < 256"""
        with pytest.raises(ValueError):
            ex.BPETokenizer().train("some text", vocab_size)

    def test_training_again_starts_over(self, ex):
        """train() replaces earlier merges: training twice equals training once on the second text"""
        def run(module):
            tok = module.BPETokenizer()
            tok.train("xyxyxyxy zzzz", 262)
            tok.train("hello hello world", 262)
            return tok.merges
        check_merges(ex, run, reference_merges("hello hello world", 262), "hello hello world",
                     call="BPETokenizer().train('xyxyxyxy zzzz', 262), then .train('hello hello world', 262)")


@pytest.mark.target("BPETokenizer.encode")
class TestEncode:
    def test_held_out_shakespeare(self, ex):
        """encodes unseen text by applying the learned merges in the order learned"""
        _, held_out = shakespeare()
        tok = trained(ex, "shakespeare")
        check_exact(ex, "BPETokenizer.encode", lambda module: trained(module, "shakespeare").encode(held_out),
                    ref.encode(held_out, merges_of(tok)),
                    call=f"encode(tinyshakespeare[{CORPUS_CHARS}:], {HELD_OUT_CHARS} chars)",
                    what="list of ids")

    @given(text=unicode_texts())
    def test_unicode_like_reference(self, ex, text):
        """encodes any Unicode text (emoji, combining marks, CJK, controls) to its UTF-8 bytes, merged"""
        tok = trained(ex, "unicode")
        check_exact(ex, "BPETokenizer.encode", lambda module: trained(module, "unicode").encode(text),
                    ref.encode(text, merges_of(tok)), call=f"encode({short(text)}) after training on Unicode text",
                    what="list of ids")

    def test_learned_order_not_frequency(self, ex):
        """applies merges in the order learned, not by how often a pair occurs in the text being encoded"""
        def run(module):
            tok = module.BPETokenizer()
            tok.train("ab ab ab bc bc", 259)  # learns (a, b) -> 256, (256, ' ') -> 257, then (b, c) -> 258
            return tok.encode("abcbcbcbc ab ")
        expected = ref.encode("abcbcbcbc ab ", reference_merges("ab ab ab bc bc", 259))
        check_exact(ex, "BPETokenizer.encode", run, expected,
                    call="encode('abcbcbcbc ab ') after train('ab ab ab bc bc', vocab_size=259)", what="list of ids")

    @pytest.mark.parametrize("text", ["aaaaa", "aaaaaa", "baaab"])
    def test_runs_without_overlap(self, ex, text):
        """replaces a pair left to right without overlap: "aaaaa" with (a, a) -> X gives X X a"""
        def run(module):
            tok = module.BPETokenizer()
            tok.train("aaa", 258)
            return tok.encode(text)
        check_exact(ex, "BPETokenizer.encode", run, ref.encode(text, reference_merges("aaa", 258)),
                    call=f"encode({text!r}) after train('aaa', vocab_size=258)", what="list of ids")

    def test_empty_text(self, ex):
        """encode('') is []"""
        check_exact(ex, "BPETokenizer.encode", lambda module: trained(module, "shakespeare").encode(""), [],
                    call="encode('')", what="list of ids")


@pytest.mark.target("BPETokenizer.decode")
class TestDecode:
    @given(text=unicode_texts(), which=st.sampled_from(["unicode", "shakespeare"]))
    def test_round_trip(self, ex, text, which):
        """decode(encode(s)) == s for any Unicode string"""
        if which == "shakespeare":
            shakespeare()
        check_exact(ex, "BPETokenizer.decode",
                    lambda module: trained(module, which).decode(trained(module, which).encode(text)),
                    text, call=f"decode(encode({short(text)})) with the tokenizer trained on {which}", what="text")

    @given(data=st.data(), which=st.sampled_from(["unicode", "shakespeare"]))
    def test_any_ids_like_reference(self, ex, data, which):
        """decodes any list of ids, merged ones too, as their bytes joined; invalid UTF-8 becomes U+FFFD"""
        if which == "shakespeare":
            shakespeare()
        vocab_size = dict(unicode=UNICODE_VOCAB, shakespeare=CORPUS_VOCAB)[which]
        ids = data.draw(st.lists(st.integers(0, vocab_size - 1), max_size=20), label="ids")
        tok = trained(ex, which)
        check_exact(ex, "BPETokenizer.decode", lambda module: trained(module, which).decode(ids),
                    ref.decode(ids, merges_of(tok)), call=f"decode({ids}) with the tokenizer trained on {which}",
                    what="text")

    @pytest.mark.parametrize("ids", [[0xFF], [0xE2, 0x82], [104, 105, 0x80, 33], [0xF0, 0x9F, 0x91], [0xC3]])
    def test_invalid_utf8_is_replaced(self, ex, ids):
        """invalid UTF-8 (a lone continuation byte, a cut multi-byte character) becomes U+FFFD instead of raising"""
        expected = bytes(ids).decode("utf-8", errors="replace")

        def run(module):
            tok = module.BPETokenizer()
            tok.train("", 256)
            return tok.decode(ids)
        check_exact(ex, "BPETokenizer.decode", run, expected, call=f"decode({ids})", what="text")

    def test_held_out_shakespeare(self, ex):
        """decode(encode(t)) == t for unseen Shakespeare, with merged ids"""
        _, held_out = shakespeare()
        check_exact(ex, "BPETokenizer.decode",
                    lambda module: trained(module, "shakespeare").decode(
                        trained(module, "shakespeare").encode(held_out)),
                    held_out, call=f"decode(encode(tinyshakespeare[{CORPUS_CHARS}:]))", what="text")

    def test_empty(self, ex):
        """decode([]) is ''"""
        check_exact(ex, "BPETokenizer.decode", lambda module: trained(module, "unicode").decode([]), "",
                    call="decode([])", what="text")


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
