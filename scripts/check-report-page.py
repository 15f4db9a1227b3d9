#!/usr/bin/env python3
"""Parses a page of `migrate --report-html` with html.parser and prints its structure as JSON.

    scripts/check-report-page.py report.html

The JSON holds: `errors` (tags not closed or closed out of order), `verdict` (the outcome and text of the element
with id="verdict", and whether it is the first thing in <main>), `units` (every ledger row's data-unit), `charts`
(per figure: title, declared points, markers drawn, polyline vertices, samples per series), `external` (every
reference that would fetch something: src/href/action attributes, script/link/img/iframe/object/embed tags, url()
or @import in a style), and `text` (the page's text). The integration tests assert on it; a person can read it.
"""
import json
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# SVG elements written self-closing (<circle .../>).
SELF_CLOSING = {"circle", "rect", "polygon", "polyline", "line", "path"}
FETCHING_TAGS = {"script", "link", "img", "iframe", "object", "embed", "audio", "video", "source", "image", "use", "frame"}
FETCHING_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.external = []
        self.units = []
        self.charts = []
        self.text = []
        self.verdict = None
        self.main_children = 0
        self.verdict_first = False
        self.in_verdict = 0
        self.in_style = False
        self.figure = None
        self.legend_depth = None

    def handle_starttag(self, tag, attrs):
        self.open(tag, dict(attrs), closes=False)

    def handle_startendtag(self, tag, attrs):
        self.open(tag, dict(attrs), closes=True)

    def open(self, tag, attributes, closes):
        if tag in FETCHING_TAGS:
            self.external.append(f"<{tag}>")
        for name, value in attributes.items():
            if name in FETCHING_ATTRIBUTES:
                self.external.append(f"{tag} {name}={value}")
            if value and "url(" in value:
                self.external.append(f"{tag} {name} has url(")
        if self.stack and self.stack[-1] == "main":
            self.main_children += 1
            if attributes.get("id") == "verdict" and self.main_children == 1:
                self.verdict_first = True
        if attributes.get("id") == "verdict":
            self.verdict = {"outcome": attributes.get("data-outcome"), "text": ""}
            self.in_verdict = len(self.stack) + 1
        if tag == "tr" and "data-unit" in attributes:
            self.units.append(attributes["data-unit"])
        if tag == "figure" and "chart" in attributes.get("class", ""):
            self.figure = {"title": attributes.get("data-chart"), "points": int(attributes.get("data-points", "0")),
                           "markers": 0, "vertices": 0, "series": {}}
            self.charts.append(self.figure)
        if self.figure is not None and self.legend_depth is None:
            if tag == "ul" and "legend" in attributes.get("class", ""):
                self.legend_depth = len(self.stack) + 1
            if "point" in attributes.get("class", "").split():
                self.figure["markers"] += 1
            if tag == "polyline":
                self.figure["vertices"] += len(attributes.get("points", "").split())
            if tag == "g" and "data-series" in attributes:
                self.figure["series"][attributes["data-series"]] = int(attributes.get("data-samples", "0"))
        if tag == "style":
            self.in_style = True
        if tag in VOID or closes:
            if closes and tag not in SELF_CLOSING and tag not in VOID:
                self.errors.append(f"<{tag}/> self-closed")
            return
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "style":
            self.in_style = False
        if self.in_verdict and len(self.stack) < self.in_verdict:
            self.in_verdict = 0
        if self.legend_depth is not None and len(self.stack) < self.legend_depth:
            self.legend_depth = None
        if tag == "figure":
            self.figure = None

    def handle_data(self, data):
        if self.in_style:
            for marker in ("url(", "@import"):
                if marker in data:
                    self.external.append(f"style has {marker}")
            return
        if self.in_verdict:
            self.verdict["text"] += data
        self.text.append(data)


def main():
    page = Page()
    with open(sys.argv[1], encoding="utf-8") as file:
        page.feed(file.read())
    page.close()
    if page.stack:
        page.errors.append(f"unclosed: {page.stack}")
    json.dump({"errors": page.errors, "verdict": page.verdict, "verdict_first": page.verdict_first, "units": page.units,
               "charts": page.charts, "external": page.external, "text": " ".join(page.text)}, sys.stdout)


if __name__ == "__main__":
    main()
