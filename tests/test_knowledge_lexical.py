"""Lexical retrieval units: typo correction of English query words, stop words, Damerau-Levenshtein."""
import pytest

from knowledge.lexical import EN_STOP, LexicalIndex, edit_distance, tokenize

DOCS = ["A temporary quota is valid for thirty days from the grant date.",
        "Prohibited purposes include real estate down payments and cash out.",
        "Paid agents who charge a fee for credit repair are a scam."]


@pytest.mark.parametrize("a, b, d", [("temprary", "temporary", 1), ("paymnet", "payment", 1), ("expier", "expire", 1),
                                     ("recrods", "records", 1), ("teh", "the", 1), ("quota", "quota", 0),
                                     ("tempory", "temporary", 2), ("agency", "agent", 2)])
def test_edit_distance_counts_a_swap_as_one_edit(a, b, d):
    assert edit_distance(a, b) == d


def test_edit_distance_stops_past_its_limit():
    assert edit_distance("payment", "purposes", limit=2) == 3
    assert edit_distance("a", "abcdef", limit=2) == 3


def test_an_unindexed_word_is_read_as_the_nearest_indexed_word():
    index = LexicalIndex(DOCS)
    assert index.correct("temprary") == "temporary"
    assert index.correct("paymnets") == "payments"
    assert index.correct("tempory") == "temporary"          # two edits allowed from six letters on
    assert index.correct("quota") == "quota"                # indexed: untouched
    assert index.correct("dayz") == "dayz"                  # shorter than five letters: untouched
    assert index.correct("xylophone") == "xylophone"        # nothing within two edits
    assert index.correct("grnat") == "grant"                # five letters: one edit (a swap)
    assert index.correct("grnta") == "grnta"                # ... but not two
    s = index.scores("temprary qouta")
    assert s.argmax() == 0 and s[0] > 0 and s[1] == s[2] == 0


def test_a_known_word_is_never_corrected():
    # "change" is not indexed and is one edit from "charge": only the known-word check keeps it apart.
    assert LexicalIndex(DOCS).correct("change") == "charge"
    known = {"change"}.__contains__
    index = LexicalIndex(DOCS, known=known)
    assert index.correct("change") == "change" and index.correct("temprary") == "temporary"
    assert index.scores("change")[2] == 0


def test_the_embedding_vocabulary_tells_words_from_typos():
    from knowledge.embedding import known_word
    assert known_word("change") and known_word("missed") and known_word("agency")
    assert not known_word("temprary") and not known_word("paymnet")


def test_particles_are_not_stop_words():
    assert {"down", "out", "over", "up", "under", "off"}.isdisjoint(EN_STOP)
    assert "down" in tokenize("house down payment") and "the" not in tokenize("the down payment")
    index = LexicalIndex(DOCS)
    s = index.scores("down payment")
    assert s.argmax() == 1 and s[0] == s[2] == 0
