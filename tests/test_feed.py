from __future__ import annotations

import socket
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.collect.feed import parse_feed
from digest.errors import SourceError
from digest.models import Entry, Parsed
from tests.golden import assert_golden, parsed_to_json

FEED_FILES = (
    "arxiv_api_query_all_Einstein_2018-02-05.xml",
    "arxiv_api_query_cat_cs.LG_OR_cs.AI_2026-04-30.xml",
    "arxiv_atom_cs.AI_2025-08-20.xml",
    "arxiv_rss2_cs.CL_2026-08-01_weekend_empty.xml",
    "hf_papers_feedgen_rss_huangboming_2026-04-30.xml",
    "hf_papers_takara_tldr_rss_2026-04-30.xml",
)


def read(shared: Path, name: str) -> Parsed:
    return parse_feed((shared / "feeds" / name).read_bytes())


def by_id(parsed: Parsed) -> dict[str | None, Entry]:
    return {entry.paper.arxiv_id: entry for entry in parsed.entries}


def rss(items: str, *, namespaces: str = "", channel: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" {namespaces}><channel>'
        f"<title>t</title><link>https://example.org/</link>{channel}{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize("name", FEED_FILES, ids=lambda name: name.removesuffix(".xml"))
def test_golden(shared: Path, name: str) -> None:
    assert_golden(f"feed_{name.removesuffix('.xml')}", parsed_to_json(read(shared, name)))


def test_every_shared_feed_has_a_golden_test(shared: Path) -> None:
    names = {path.name for path in (shared / "feeds").glob("*.xml")}
    assert names == set(FEED_FILES)


# Real feeds


def test_arxiv_atom_keeps_the_whole_entries_of_a_truncated_feed(shared: Path) -> None:
    parsed = read(shared, "arxiv_atom_cs.AI_2025-08-20.xml")
    assert (parsed.kind, parsed.format) == ("feed", "arxiv-atom")
    assert len(parsed.entries) == 86
    assert parsed.warnings == (
        "feed is not well-formed (no element found); kept 86 entries",
        "entry 87: cut off by the end of the document, skipped",
    )
    assert [entry.position for entry in parsed.entries] == list(range(1, 87))


def test_arxiv_atom_entry_fields(shared: Path) -> None:
    parsed = read(shared, "arxiv_atom_cs.AI_2025-08-20.xml")
    first = parsed.entries[0]
    paper = first.paper
    assert paper.arxiv_id == "2508.13167"
    assert paper.arxiv_version == 1
    assert paper.title.startswith("Chain-of-Agents: End-to-End Agent Foundation Models")
    assert paper.abstract.startswith("Recent advances in large language models (LLMs)")
    assert len(paper.authors) == 30
    assert paper.authors[:3] == ("Weizhen Li", "Jianbo Lin", "Zhuosong Jiang")
    assert paper.categories == ("cs.AI", "cs.CL")
    assert paper.url == "https://arxiv.org/abs/2508.13167"
    assert paper.published == datetime(2025, 8, 20, 4, 0, tzinfo=UTC)
    assert first.announce_type == "new"
    assert first.listed_on == date(2025, 8, 20)
    assert all(not entry.paper.abstract.startswith("arXiv:") for entry in parsed.entries)
    assert all("Announce Type" not in entry.paper.abstract for entry in parsed.entries)
    assert {entry.announce_type for entry in parsed.entries} <= {
        "new",
        "cross",
        "replace",
        "replace-cross",
    }
    cross = [entry for entry in parsed.entries if entry.announce_type == "cross"]
    assert cross
    assert cross[-1].paper.categories[0] == "cs.LG"  # the primary category is listed first


API_ERROR = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>ArXiv Query: search_query=&amp;id_list=2501.123456</title>
  <id>http://arxiv.org/api/FTTmZrpV2Zpbfi/FSBTB0HKRkmo</id>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_2501.123456</id>
    <title>Error</title>
    <summary>incorrect id format for 2501.123456</summary>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
"""


def test_an_arxiv_api_error_is_a_failed_source_not_a_paper_called_error() -> None:
    """The API answers a bad query with HTTP 200 and this entry: stored, it became a
    paper titled "Error" in the email (and every such error the same paper)."""
    with pytest.raises(
        SourceError,
        match=r"^the arXiv API answered an error: incorrect id format for 2501\.123456$",
    ):
        parse_feed(API_ERROR)


def test_arxiv_weekend_feed_is_empty_not_an_error(shared: Path) -> None:
    parsed = read(shared, "arxiv_rss2_cs.CL_2026-08-01_weekend_empty.xml")
    assert parsed.entries == ()
    assert parsed.format == "arxiv-rss"
    assert parsed.warnings == (
        "feed has no entries (arXiv announces nothing on weekends and holidays)",
    )


def test_arxiv_api_old_style_ids_and_wrapped_text(shared: Path) -> None:
    parsed = read(shared, "arxiv_api_query_all_Einstein_2018-02-05.xml")
    assert parsed.format == "arxiv-api"
    assert parsed.warnings == ()
    assert len(parsed.entries) == 10
    old = by_id(parsed)["math/0502287"]
    assert old.paper.arxiv_version == 1
    assert old.paper.url == "https://arxiv.org/abs/math/0502287"
    assert old.paper.pdf_url == "https://arxiv.org/pdf/math/0502287v1"
    first = parsed.entries[0].paper
    assert first.arxiv_id == "1801.05533"
    assert first.categories == ("math.DG",)  # "53D10, 53D15" is an MSC class, not a category
    assert first.published == datetime(2018, 1, 17, 3, 5, 51, tzinfo=UTC)
    assert parsed.entries[0].listed_on == date(2018, 2, 5)
    for entry in parsed.entries:
        assert "\n" not in entry.paper.title + entry.paper.abstract
        assert "  " not in entry.paper.title + entry.paper.abstract
        assert entry.paper.authors


def test_arxiv_api_primary_category_doi_and_code(shared: Path) -> None:
    parsed = read(shared, "arxiv_api_query_cat_cs.LG_OR_cs.AI_2026-04-30.xml")
    assert len(parsed.entries) == 20
    first = parsed.entries[0].paper
    assert first.categories == ("cs.CL", "cs.AI", "cs.LG")
    assert first.authors == ("Gongbo Zhang", "Wen Wang", "Ye Tian", "Li Yuan")
    assert first.pdf_url == "https://arxiv.org/pdf/2604.26951v1"
    assert first.code_urls == ("https://github.com/PKU-YuanGroup/TIDE",)  # from arxiv:comment
    dois = [entry.paper.doi for entry in parsed.entries if entry.paper.doi]
    assert dois
    assert all(doi == doi.lower() and doi.startswith("10.") for doi in dois)
    for entry in parsed.entries:
        paper = entry.paper
        assert paper.url == f"https://arxiv.org/abs/{paper.arxiv_id}"
        assert paper.categories
        assert entry.announce_type is None


def test_takara_links_give_arxiv_ids_and_abstracts_keep_comparisons(shared: Path) -> None:
    parsed = read(shared, "hf_papers_takara_tldr_rss_2026-04-30.xml")
    assert (parsed.format, len(parsed.entries), parsed.warnings) == ("rss", 50, ())
    first = parsed.entries[0]
    assert first.paper.arxiv_id == "2604.26238"
    assert first.paper.url == "https://tldr.takara.ai/p/2604.26238"
    assert first.listed_on == date(2026, 4, 30)
    assert first.paper.published == datetime(2026, 4, 29, 2, 39, 18, tzinfo=UTC)
    assert all(entry.paper.arxiv_id for entry in parsed.entries)
    abstracts = " ".join(entry.paper.abstract for entry in parsed.entries)
    assert "n_l <= n + 2 w_max * N" in abstracts
    assert "Operating and maintaining (O&M)" in abstracts
    coquant = parsed.entries[1].paper
    assert coquant.code_urls == ("https://github.com/Zachary5895/CoQuant",)


def test_feedgen_description_gives_authors_upvotes_and_summary(shared: Path) -> None:
    parsed = read(shared, "hf_papers_feedgen_rss_huangboming_2026-04-30.xml")
    assert (parsed.format, len(parsed.entries), parsed.warnings) == ("rss", 22, ())
    first = parsed.entries[0]
    assert first.paper.authors == ("Haebin Seong", "Li Yin", "Haoran Zhang")
    assert first.upvotes == 1
    assert first.paper.arxiv_id == "2604.21003"
    assert first.paper.abstract.startswith("AI agents are increasingly deployed")
    assert parsed.entries[-1].upvotes == 123
    for entry in parsed.entries:
        assert entry.upvotes is not None
        assert entry.paper.authors
        for label in ("Authors:", "Upvotes:", "Summary:", "thumbnail", "<"):
            assert label not in entry.paper.abstract


@pytest.mark.parametrize(
    ("description", "abstract", "authors", "upvotes"),
    [
        ("<p><b>Summary:</b> Only a summary.</p>", "Only a summary.", (), None),
        ("<p><b>Authors:</b> A B, C D</p><p><b>Summary:</b> S.</p>", "S.", ("A B", "C D"), None),
        (
            "<p><b>Upvotes:</b> many</p><p><b>Summary:</b> S. Upvotes: 3</p>",
            "S. Upvotes: 3",
            (),
            None,
        ),
        ("<p><b>Authors:</b> A B</p><p><b>Upvotes:</b> 7</p>", "", ("A B",), 7),
        (
            "<p>Plain abstract. Authors: not a label here.</p>",
            "Plain abstract. Authors: not a label here.",
            (),
            None,
        ),
    ],
)
def test_feedgen_labels(
    description: str, abstract: str, authors: tuple[str, ...], upvotes: int | None
) -> None:
    escaped = description.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    item = f"<item><title>T</title><description>{escaped}</description></item>"
    (entry,) = parse_feed(rss(item)).entries
    assert (entry.paper.abstract, entry.paper.authors, entry.upvotes) == (
        abstract,
        authors,
        upvotes,
    )


def test_code_urls_with_text_whose_lower_case_changes_length() -> None:
    item = (
        "<item><title>T</title><description>\u0130stanbul: see GitHub.com/Own/Repo and "
        "https://www.github.com/own/other.git</description></item>"
    )
    (entry,) = parse_feed(rss(item)).entries
    assert entry.paper.code_urls == ("https://github.com/Own/Repo", "https://github.com/own/other")


# Not feeds at all


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty document"),
        (b"  \n\t", "empty document"),
        (bytes(range(256)) * 8, "not a feed: "),
        (b"\x00\x01\x02binary\xff\xfe", "not a feed: "),
        (
            b"<!DOCTYPE html><html><head><title>Hi</title></head><body><p>x</p></body></html>",
            "an HTML page, not a feed",
        ),
        (
            b"<html lang='en'><body><a href='/rss'>feed</a></body></html>",
            "an HTML page, not a feed",
        ),
        (b'[{"paper": {"id": "2601.00001", "title": "T"}}]', "a JSON document, not a feed"),
        (b'{"items": []}', "a JSON document, not a feed"),
        (b"just some prose, no markup", "not a feed: "),
        (b'<?xml version="1.0"?><urlset><url/></urlset>', "not a feed: no RSS, RDF or Atom"),
        (b'<rss version="2.0"><channel><title>x</title>', "feed is not well-formed"),
    ],
)
def test_unusable_documents_raise_a_one_line_source_error(data: bytes, message: str) -> None:
    with pytest.raises(SourceError) as raised:
        parse_feed(data)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_never_opens_a_file_or_url_the_bytes_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parse_feed tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for data in (b"/etc/hostname", b"http://127.0.0.1:9/feed.xml", b"file:///etc/hostname"):
        with pytest.raises(SourceError):
            parse_feed(data)


def test_external_entities_are_not_read() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><title>Paper &xxe; end</title><link>https://arxiv.org/abs/2601.00001</link></item>"
        b"</channel></rss>"
    )
    (entry,) = parse_feed(data).entries
    assert entry.paper.title == "Paper end"  # the entity is dropped, the file never read


# arXiv feeds, synthetic


ARXIV_RSS_ITEM = """
<item>
  <title>A Paper &amp; Its Title</title>
  <link>https://arxiv.org/abs/2508.00001</link>
  <description>arXiv:2508.00001v2 Announce Type: replace-cross
Abstract: We study things. Code: https://github.com/owner/repo.</description>
  <guid isPermaLink="false">oai:arXiv.org:2508.00001v2</guid>
  <category>cs.LG</category>
  <category>cs.AI</category>
  <pubDate>Wed, 20 Aug 2025 00:00:00 -0400</pubDate>
  <{prefix}:announce_type>replace-cross</{prefix}:announce_type>
  <{prefix}:DOI>10.1000/ABC.123</{prefix}:DOI>
  <dc:creator>Ada Lovelace, Alan Turing and Grace Hopper</dc:creator>
</item>
"""
ARXIV_CHANNEL = "<pubDate>Wed, 20 Aug 2025 00:00:00 -0400</pubDate>"


@pytest.mark.parametrize("prefix", ["arxiv", "ax", "ns0"])
def test_arxiv_rss_with_any_namespace_prefix(prefix: str) -> None:
    namespaces = (
        f'xmlns:{prefix}="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"'
    )
    item = ARXIV_RSS_ITEM.replace("{prefix}", prefix).replace(":DOI>", ":doi>")
    parsed = parse_feed(rss(item, namespaces=namespaces, channel=ARXIV_CHANNEL))
    assert parsed.format == "arxiv-rss"
    (entry,) = parsed.entries
    assert entry.announce_type == "replace-cross"
    assert entry.listed_on == date(2025, 8, 20)
    paper = entry.paper
    assert paper.title == "A Paper & Its Title"
    assert (paper.arxiv_id, paper.arxiv_version) == ("2508.00001", 2)
    assert paper.abstract == "We study things. Code: https://github.com/owner/repo."
    assert paper.authors == ("Ada Lovelace", "Alan Turing", "Grace Hopper")
    assert paper.categories == ("cs.LG", "cs.AI")
    assert paper.doi == "10.1000/abc.123"
    assert paper.code_urls == ("https://github.com/owner/repo",)
    assert paper.published == datetime(2025, 8, 20, 4, 0, tzinfo=UTC)


def test_arxiv_namespace_as_default_namespace_of_its_elements() -> None:
    data = b"""<?xml version="1.0"?>
    <feed xmlns="http://www.w3.org/2005/Atom">
      <id>http://rss.arxiv.org/atom/cs.LG</id><updated>2025-08-20T04:00:00Z</updated>
      <entry>
        <id>oai:arXiv.org:2508.00002v1</id><title>Default namespace</title>
        <summary>arXiv:2508.00002v1 Announce Type: new Abstract: Text.</summary>
        <announce_type xmlns="http://arxiv.org/schemas/atom">cross</announce_type>
        <primary_category xmlns="http://arxiv.org/schemas/atom" term="stat.ML"/>
        <category term="cs.LG"/><category term="stat.ML"/>
      </entry>
    </feed>"""
    parsed = parse_feed(data)
    assert parsed.format == "arxiv-atom"
    (entry,) = parsed.entries
    assert entry.announce_type == "cross"
    assert entry.paper.categories == ("stat.ML", "cs.LG")
    assert entry.paper.abstract == "Text."
    assert entry.paper.url == "https://arxiv.org/abs/2508.00002"  # no link: the abs page


def test_announce_type_falls_back_to_the_abstract_prefix() -> None:
    item = (
        "<item><title>T</title><link>https://arxiv.org/abs/2508.00003</link>"
        "<description>arXiv:2508.00003v3 Announce Type: replace Abstract: Body.</description>"
        "</item>"
    )
    (entry,) = parse_feed(rss(item)).entries
    assert entry.announce_type == "replace"
    assert (entry.paper.arxiv_id, entry.paper.arxiv_version) == ("2508.00003", 3)
    assert entry.paper.abstract == "Body."


def test_truncated_arxiv_feed_with_another_prefix_keeps_whole_entries() -> None:
    head = rss(
        ARXIV_RSS_ITEM.replace("{prefix}", "zz").replace(":DOI>", ":doi>"),
        namespaces='xmlns:zz="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"',
    ).decode()
    data = head.replace("</channel></rss>", "<item><title>Cut off mid-ti").encode()
    parsed = parse_feed(data)
    assert len(parsed.entries) == 1
    assert parsed.entries[0].announce_type == "replace-cross"
    assert parsed.warnings[0].startswith("feed is not well-formed (")
    assert parsed.warnings[0].endswith("); kept 1 entry")
    assert parsed.warnings[1] == "entry 2: cut off by the end of the document, skipped"


# Generic feeds, synthetic


def test_script_and_markup_never_reach_the_text() -> None:
    items = (
        "<item><title>A &lt;script&gt;alert(1)&lt;/script&gt; B</title>"
        "<description><![CDATA[<p>Bold <b>claim</b> &amp; n_l <= n.</p>"
        "<script>steal()</script><style>p{}</style>]]></description></item>"
        "<item><title><![CDATA[<script>alert(2)</script>Second <i>paper</i>]]></title></item>"
    )
    first, second = parse_feed(rss(items)).entries
    assert first.paper.title == "A B"
    assert first.paper.abstract == "Bold claim & n_l <= n."
    assert second.paper.title == "Second paper"


def test_entries_without_title_are_skipped_with_their_position() -> None:
    items = (
        "<item><title>One</title></item>"
        "<item><description>no title here</description></item>"
        "<item><title> <![CDATA[ <b></b> ]]> </title></item>"
        "<item><title>Four</title></item>"
    )
    parsed = parse_feed(rss(items))
    assert [(entry.position, entry.paper.title) for entry in parsed.entries] == [
        (1, "One"),
        (4, "Four"),
    ]
    assert parsed.warnings == ("entry 2: no title, skipped", "entry 3: no title, skipped")


def test_generic_atom_feed_fields() -> None:
    data = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/">
      <title>Journal</title><id>urn:j</id><updated>2026-03-02T23:30:00-05:00</updated>
      <entry>
        <title type="html">Graphs &amp;amp; &lt;em&gt;things&lt;/em&gt;</title>
        <id>urn:x:1</id>
        <link rel="alternate" href="https://journal.example/1"/>
        <link rel="enclosure" type="application/pdf" href="https://journal.example/1.pdf"/>
        <updated>2026-03-01T10:00:00+02:00</updated>
        <author><name>Smith, John</name></author>
        <author><name>Jane Roe</name></author>
        <category term="Graph Theory"/>
        <prism:doi>10.1234/J.1</prism:doi>
        <content type="html">&lt;p&gt;See &lt;a href="https://github.com/a/b"&gt;code&lt;/a&gt;.&lt;/p&gt;</content>
      </entry>
    </feed>"""
    parsed = parse_feed(data)
    assert (parsed.format, parsed.warnings) == ("atom", ())
    (entry,) = parsed.entries
    paper = entry.paper
    assert paper.title == "Graphs & things"
    assert paper.abstract == "See code ."
    assert paper.authors == ("Smith, John", "Jane Roe")
    assert paper.arxiv_id is None
    assert paper.doi == "10.1234/j.1"
    assert paper.categories == ("Graph Theory",)
    assert paper.url == "https://journal.example/1"
    assert paper.pdf_url == "https://journal.example/1.pdf"
    assert paper.code_urls == ("https://github.com/a/b",)  # from the link, not only the text
    assert paper.published == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert entry.listed_on == date(2026, 3, 3)  # the feed's own date, in UTC


def test_only_web_links_become_urls() -> None:
    items = (
        "<item><title>Script link</title><link>javascript:alert(1)</link>"
        "<dc:identifier>doi:10.5555/ABC</dc:identifier></item>"
        "<item><title>Guid only</title><guid>urn:uuid:1234</guid></item>"
    )
    parsed = parse_feed(rss(items, namespaces='xmlns:dc="http://purl.org/dc/elements/1.1/"'))
    script, guid = parsed.entries
    assert script.paper.url is None
    assert script.paper.doi == "10.5555/abc"
    assert guid.paper.url is None


def test_listed_on_falls_back_to_the_entry_date_then_none() -> None:
    items = (
        "<item><title>Dated</title><pubDate>Tue, 03 Mar 2026 12:00:00 GMT</pubDate></item>"
        "<item><title>Undated</title><pubDate>not a date</pubDate></item>"
    )
    dated, undated = parse_feed(rss(items)).entries
    assert dated.listed_on == date(2026, 3, 3)
    assert dated.paper.published == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    assert undated.listed_on is None
    assert undated.paper.published is None


@pytest.mark.parametrize(
    ("creator", "authors"),
    [
        ("A One, B Two, and C Three", ("A One", "B Two", "C Three")),
        ("A One and B Two", ("A One", "B Two")),
        ("A One; B Two", ("A One", "B Two")),
        ("Turing, Alan", ("Turing, Alan",)),
        ("  Solo   Author ", ("Solo Author",)),
    ],
)
def test_author_strings_are_split(creator: str, authors: tuple[str, ...]) -> None:
    item = f"<item><title>T</title><dc:creator>{creator}</dc:creator></item>"
    parsed = parse_feed(rss(item, namespaces='xmlns:dc="http://purl.org/dc/elements/1.1/"'))
    assert parsed.entries[0].paper.authors == authors


def test_empty_generic_feed_warns_without_weekend_note() -> None:
    parsed = parse_feed(rss(""))
    assert (parsed.format, parsed.entries, parsed.warnings) == ("rss", (), ("feed has no entries",))


def test_encoding_declared_wrongly_is_a_minor_problem() -> None:
    data = (
        '<?xml version="1.0" encoding="us-ascii"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Caf\u00e9 paper</title></item></channel></rss>"
    ).encode()
    parsed = parse_feed(data)
    assert parsed.entries[0].paper.title == "Caf\u00e9 paper"
    assert parsed.warnings[0].startswith("feed has a minor problem: ")


def test_utf16_feed() -> None:
    data = rss("<item><title>\u00dcber \u03b1</title></item>").decode()
    data_bytes = data.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    (entry,) = parse_feed(data_bytes).entries
    assert entry.paper.title == "\u00dcber \u03b1"
