"""The report's languages: catalogues complete, Indonesian without English, a third language."""

from __future__ import annotations

import re
import string
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

import geo_stunting as gs
from geo_stunting.outputs.report._analysis_text import analysis
from geo_stunting.outputs.report._i18n import (
    ENV_LOCALE_PATH,
    LOCALE_DIR,
    available_languages,
    fmt,
    fmt_p,
    languages,
    pct,
    t,
    tn,
)
from geo_stunting.outputs.report._page import make_report

ROOT = Path(__file__).parents[1]
#: The keywords of docs/how-to/translating.md's `pybabel extract` command.
KEYWORDS = parse_keywords(["t", "tn:1,2", "pt:1c,2", "N_", "pN_:1c,2"])
FIELDS = string.Formatter()


def extracted() -> dict[tuple[str | None, str], Any]:
    """Every message the code and the templates use, as `pybabel extract` finds them."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        found[(context, msgid)] = message
    return found


def catalogue(path: Path) -> dict[tuple[str | None, str], Any]:
    with path.open("rb") as handle:
        po = read_po(handle)
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in po if m.id}


def fields(text: str) -> list[str]:
    return sorted(f for _, f, _, _ in FIELDS.parse(text) if f)


# --------------------------------------------------------------------------- the catalogues


def test_every_message_has_an_indonesian_translation() -> None:
    used = extracted()
    assert len(used) > 200
    indonesian = catalogue(LOCALE_DIR / "id" / "LC_MESSAGES" / "geo_stunting.po")
    missing = sorted(str(k) for k in used if k not in indonesian)
    assert not missing, (
        f"not in id.po (run the pybabel recipe of docs/how-to/translating.md): {missing}"
    )
    for key, message in indonesian.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"empty translation of {key}"
        assert not message.fuzzy, f"fuzzy translation of {key}"
        assert key in used, f"{key} is in id.po but no longer used"


def test_the_template_for_translators_is_up_to_date() -> None:
    pot = catalogue(LOCALE_DIR / "geo_stunting.pot")
    assert set(pot) == set(extracted())


@pytest.mark.parametrize("code", [c for c in available_languages() if c != "en"])
def test_translations_keep_the_placeholders_of_the_english(code: str) -> None:
    for (context, _), message in catalogue(
        LOCALE_DIR / code / "LC_MESSAGES" / "geo_stunting.po"
    ).items():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        want = fields(ids[-1])
        for text in strings:
            assert fields(text) == want, (context, ids, text)
            assert "<" not in text or "<" in ids[0], "a translation holds text, not markup"


def test_numbers_in_each_locale() -> None:
    with languages(["en", "id"]):
        assert fmt(1234.5, 1).by_lang == {"en": "1,234.5", "id": "1.234,5"}
        assert fmt(20231).by_lang == {"en": "20,231", "id": "20.231"}
        assert str(fmt(12)) == "12"  # the same in both: no spans
        assert pct(1, 8).by_lang == {"en": "12.5%", "id": "12,5%"}
        assert fmt_p(0.0234).by_lang == {"en": "p = 0.023", "id": "p = 0,023"}
        assert fmt_p(0.00001).by_lang == {"en": "p &lt; 0.001", "id": "p &lt; 0,001"}  # HTML
        assert str(fmt(float("nan"))) == "–"


def test_plural_forms() -> None:
    with languages(["en", "id"]):
        assert tn("{n} child", "{n} children", 1).by_lang == {"en": "1 child", "id": "1 anak"}
        assert tn("{n} child", "{n} children", 1201).by_lang == {
            "en": "1,201 children",
            "id": "1.201 anak",
        }


def test_analysis_sentences_are_translated_with_their_numbers() -> None:
    with languages(["en", "id"]):
        reason = analysis(
            "Shapiro-Wilk p < 0.05 or not testable (cases 0.000315, controls 1.58e-09): not "
            "normal, so the rank-based Mann-Whitney U test"
        )
        warning = analysis(
            "67 cases (the smaller group) for 7 coefficient(s): fewer than 10 per coefficient, "
            "so the adjusted odds ratios may be unstable"
        )
        unknown = analysis("a sentence nobody translated")
    assert reason.get("id").unescape() == (
        "Shapiro-Wilk p < 0,05 atau tidak dapat diuji (kasus 0,000315, kontrol 1,58e-09): tidak "
        "normal, sehingga dipakai uji Mann-Whitney U berbasis peringkat"
    )
    assert (
        reason.get("en")
        .unescape()
        .startswith("Shapiro-Wilk p < 0.05 or not testable (cases 0.000315")
    )
    assert warning.get("id").startswith("67 kasus (kelompok yang lebih kecil) untuk 7 koefisien")
    assert unknown.by_lang == {"en": "a sentence nobody translated"} | {
        "id": "a sentence nobody translated"
    }


def test_a_rejected_row_outside_the_area_reads_the_indonesian_way() -> None:
    # a distance written with a thousands comma is a number too: 5,527 m is 5.527 m in Indonesian
    with languages(["en", "id"]):
        reason = analysis(
            "outside the study area: 5,527 m from the nearest area (Desa A); correct the point, "
            "or keep points this close with outside_m = 150 in [area] (a boundary file and GPS "
            "fixes often disagree by tens of metres)"
        )
    assert (
        reason.get("id")
        .unescape()
        .startswith(
            "di luar wilayah studi: 5.527 m dari wilayah terdekat (Desa A); perbaiki titiknya"
        )
    )
    assert reason.get("en").unescape().startswith("outside the study area: 5,527 m from")


def test_a_translation_cannot_inject_markup(tmp_path: Path, monkeypatch: Any) -> None:
    write_po(tmp_path, "xx", {"Study report": "<script>alert(1)</script>"})
    monkeypatch.setenv(ENV_LOCALE_PATH, str(tmp_path))
    with languages(["en", "xx"]):
        assert str(t("Study report")) == (
            '<span class="en">Study report</span>'
            '<span class="xx">&lt;script&gt;alert(1)&lt;/script&gt;</span>'
        )


# --------------------------------------------------------------------------- the Indonesian page


class _Visible(HTMLParser):
    """The text a reader of language `code` sees: other languages' elements, style, script out."""

    def __init__(self, code: str, others: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.code, self.others = code, others
        self.hidden: list[str] = []  # the tags of the open hidden elements
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if self.hidden or tag in {"style", "script", "title"} or classes & self.others:
            if tag not in {"br", "img", "meta", "input", "line", "rect", "circle", "path"}:
                self.hidden.append(tag)
            return
        title = dict(attrs).get("title")
        if title:  # a tooltip is read too
            self.text.append(title)

    def handle_endtag(self, tag: str) -> None:
        if self.hidden and self.hidden[-1] == tag:
            self.hidden.pop()

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.text.append(data)


def visible_text(html: str, code: str) -> str:
    parser = _Visible(code, set(available_languages()) - {code})
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.text))


@pytest.fixture(scope="module")
def demo_page() -> str:
    study = gs.load_study(gs.demo_study_path())
    results = gs.analyze(study, permutations=19)
    return make_report(results, language="id", print_maps=("map.png",))


def test_the_indonesian_report_has_no_english_sentence(demo_page: str) -> None:
    shown = visible_text(demo_page, "id")
    assert "Ringkasan studi" in shown
    assert "ada frekuensi harapan di bawah 5 (1,67)" in shown  # the 2×2 test's reason
    assert "tidak dapat diuji" in shown  # the risk-factor tests' reasons (tooltips)
    indonesian = catalogue(LOCALE_DIR / "id" / "LC_MESSAGES" / "geo_stunting.po")
    leftovers = []
    for (_context, msgid), message in indonesian.items():
        translated = message.string if isinstance(message.string, str) else message.string[0]
        # the fixed text of each message (between placeholders), where it differs from Indonesian
        for literal, *_ in FIELDS.parse(msgid):
            piece = literal.strip(" .,:;()")
            if len(piece) > 20 and piece not in translated and piece in shown:
                leftovers.append(piece)
    assert not leftovers
    english = visible_text(demo_page, "en")
    assert "Study summary" in english
    assert "Ringkasan studi" not in english


def test_the_indonesian_report_writes_numbers_the_indonesian_way(demo_page: str) -> None:
    shown = visible_text(demo_page, "id")
    assert "tinggal dalam jarak 2.000 m" in shown
    assert re.search(r"\d+,\d%", shown)  # percentages with a decimal comma
    assert "1,000 m" not in shown


# --------------------------------------------------------------------------- a third language


def write_po(folder: Path, code: str, messages: dict[Any, Any], plural: str = "(n > 1)") -> Path:
    path = folder / code / "LC_MESSAGES" / "geo_stunting.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=utf-8\\n"',
        f'"Plural-Forms: nplurals=2; plural={plural};\\n"',
        "",
    ]
    for key, value in messages.items():
        context, msgid = key if isinstance(key, tuple) and len(key) == 2 else (None, key)
        if context:
            lines.append(f'msgctxt "{context}"')
        if isinstance(msgid, tuple):
            lines += [f'msgid "{msgid[0]}"', f'msgid_plural "{msgid[1]}"']
            lines += [f'msgstr[{i}] "{s}"' for i, s in enumerate(value)]
        else:
            lines += [f'msgid "{msgid}"', f'msgstr "{value}"']
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_third_language_is_one_file(tmp_path: Path, monkeypatch: Any) -> None:
    write_po(
        tmp_path,
        "fr",
        {
            ("language name", "English"): "Français",
            "Study summary": "Résumé de l’étude",
            "Study report": "Rapport d’étude",
            (None, ("{n} child", "{n} children")): ["{n} enfant", "{n} enfants"],
            "Skipped: {reason}": "Omis : {reason}",
        },
    )
    monkeypatch.setenv(ENV_LOCALE_PATH, str(tmp_path))
    assert available_languages() == ("en", "fr", "id")
    study = gs.load_study(gs.demo_study_path())
    results = gs.analyze(study, steps=["access"])
    html = make_report(results, language="fr", map_href=None)
    assert '<html lang="fr" data-lang="fr" data-languages="en fr id">' in html
    assert 'data-set="fr" lang="fr">Français</button>' in html
    assert 'data-set="id" lang="id">Bahasa Indonesia</button>' in html
    french = visible_text(html, "fr")
    assert "Résumé de l’étude" in french
    assert "Rapport d’étude · 201 enfants" in french  # plural form of the new catalogue
    assert "Data quality" in french  # untranslated: English
    assert "Kualitas data" not in french
    assert "2 000 m" in french  # numbers in the French locale (narrow no-break space)
    # the other languages are still whole
    assert "Kualitas data" in visible_text(html, "id")
    assert "Study summary" in visible_text(html, "en")
    with pytest.raises(gs.GeoStuntingError, match="language must be one of 'en', 'fr', 'id'"):
        make_report(results, language="de")


@pytest.mark.parametrize("code", ["en", "id", "fr", "sv", "ar", "hi"])
def test_numbers_as_babel_writes_them(code: str) -> None:
    from babel.numbers import format_decimal  # noqa: PLC0415

    from geo_stunting.outputs.report._i18n import _number  # noqa: PLC0415

    for value in (0, 7, -3.25, 1234.5678, -98765.4321, 1e7 + 0.3, 0.000123):
        for decimals in (0, 1, 3):
            pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
            assert _number(value, decimals, code) == format_decimal(
                value, format=pattern, locale=code
            ), (value, decimals)


def test_study_values_cannot_inject_markup() -> None:
    """Village names, category levels, factor labels and ids are data: always escaped."""
    import copy  # noqa: PLC0415
    from dataclasses import replace  # noqa: PLC0415

    attack = '"><img src=x onerror=alert(1)>'
    study = gs.load_study(gs.demo_study_path())
    results = gs.analyze(study, steps=["access", "risk_factors"])
    sections = copy.deepcopy(results.sections)
    sections["access"]["per_area"][0]["name"] = attack
    factor = sections["risk_factors"]["factors"][0]
    factor["label"] = attack
    factor["levels"][0]["level"] = attack
    factor["reason"] = attack
    sections["study"]["facility_kinds"] = {attack: 1}
    sections["steps"]["access"]["reason"] = attack
    html = make_report(replace(results, sections=sections), map_href=attack)
    assert "<img" not in html
    assert "onerror=alert(1)>" not in html
    assert html.count("&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") >= 5
