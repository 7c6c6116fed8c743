"""Citation markers, checking, and the extractive generator."""

from __future__ import annotations

from mmrag.graph.citations import check_citations, number_evidence, parse_time
from mmrag.graph.generate import extractive_answer, leading_entity, select_evidence
from mmrag.graph.models import FusedItem
from mmrag.schemas import Hit


def item(i: str, m: str, score: float, text: str | None = None, start=None, end=None, entity=None) -> FusedItem:
    ch = {"text": "text", "image": "image", "audio": "audio", "video": "audio"}[m]
    h = Hit(id=i, modality=m, channel=ch, score=score, rank=1, source=f"src/{i}", text=text, start=start, end=end,
            entity=entity)
    return FusedItem(id=i, modality=m, source=h.source, score=score, raw_score=score, entity=entity, hit=h)


ITEMS = [
    item("t1", "text", 0.9, "Cafe Verde serves vegan brunch."),
    item("a1", "audio", 0.8, start=30.0, end=40.0),
    item("i1", "image", 0.7, text="MENU 12 EUR"),
    item("t2", "text", 0.6, "Another text."),
    item("v1", "video", 0.5, start=60.0, end=70.0),
]


def test_markers_are_numbered_per_modality():
    ev = number_evidence(ITEMS)
    assert [e.marker_base for e in ev] == ["1", "audio 1", "img 1", "2", "video 1"]
    assert ev[1].marker(34) == "[audio 1 at 0:34]"
    assert ev[4].marker() == "[video 1 at 1:00]"
    assert parse_time("1:02") == 62 and parse_time("1:00:05") == 3605


def test_check_citations_keeps_valid_and_removes_invalid():
    ev = number_evidence(ITEMS)
    answer = ("Verde has vegan brunch [1] and is quiet [audio 1 at 0:34]. The menu [img 1] [img 7] "
              "shows prices [3]. At [video 1 at 1:02] people cheer; at [audio 1 at 2:00] too; [image 1].")
    clean, cites, invalid = check_citations(answer, ev)
    assert invalid == ["[img 7]", "[3]", "[audio 1 at 2:00]"]
    assert "[img 7]" not in clean and "[3]" not in clean and "2:00" not in clean
    assert [c.marker for c in cites] == ["[1]", "[audio 1 at 0:34]", "[img 1]", "[video 1 at 1:02]"]
    audio = cites[1]
    assert (audio.id, audio.modality, audio.source, audio.start, audio.end, audio.at) == (
        "a1", "audio", "src/a1", 30.0, 40.0, 34.0)
    assert "prices." in clean  # no dangling space before the period


def test_time_on_a_text_marker_is_invalid():
    _, cites, invalid = check_citations("x [1 at 0:10]", number_evidence(ITEMS))
    assert invalid == ["[1 at 0:10]"] and cites == []


def test_extractive_answer_is_grounded_and_says_so():
    ev = number_evidence(ITEMS[:3])
    text = extractive_answer("vegan brunch?", ev, entity="cafe-verde")
    assert text.startswith("Extractive answer")
    assert "cafe-verde" in text and "Cafe Verde serves vegan brunch." in text
    clean, cites, invalid = check_citations(text, ev)
    assert invalid == [] and {c.id for c in cites} == {"t1", "a1", "i1"}
    assert "[audio 1 at 0:30]" in clean
    assert "nothing relevant" in extractive_answer("q", [])


def test_select_evidence_puts_a_leading_entity_first():
    fused = [item("x", "text", 1.0), item("e1", "image", 0.9, entity="E"), item("e2", "audio", 0.8, entity="E")]
    ents = [{"entity": "E", "score": 1.7, "items": {"image": "e1", "audio": "e2"}}]
    assert leading_entity(fused, ents) == "E"
    assert [i.id for i in select_evidence(fused, ents)] == ["e1", "e2", "x"]
    weak = [{"entity": "E", "score": 0.9, "items": {"image": "e1", "audio": "e2"}}]
    assert leading_entity(fused, weak) is None
    assert [i.id for i in select_evidence(fused, weak)] == ["x", "e1", "e2"]
