"""A tiny DOM built with the standard library's parser, to read pages as a browser would:
attribute values unescaped, elements found by id, name or text, forms read back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
CONTROLS = frozenset({"input", "select", "textarea"})


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element | str] = []

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.text())
        return re.sub(r"\s+", " ", " ".join(parts)).strip()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and all(element.attrs.get(key.rstrip("_")) == value for key, value in attrs.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Element | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def by_id(self, element_id: str) -> Element | None:
        return self.find(id=element_id)

    def ancestors(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def contains(self, other: Element) -> bool:
        return other is self or self in other.ancestors()

    def control_names(self) -> set[str]:
        return {e.attrs["name"] for e in self.iter() if e.tag in CONTROLS and "name" in e.attrs}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v if v is not None else "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v if v is not None else "" for k, v in attrs}, self.current)
        self.current.children.append(element)

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def form_values(form: Element) -> dict[str, str]:
    """What a browser would send back: text inputs, the selected option, the checked radio."""
    values: dict[str, str] = {}
    for element in form.iter():
        name = element.attrs.get("name")
        if name is None:
            continue
        if element.tag == "input" and element.attrs.get("type") in ("radio", "checkbox"):
            if "checked" in element.attrs:
                values[name] = element.attrs.get("value", "on")
        elif element.tag == "input":
            values[name] = element.attrs.get("value", "")
        elif element.tag == "select":
            selected = [o for o in element.find_all("option") if "selected" in o.attrs]
            values[name] = selected[0].attrs.get("value", "") if selected else ""
        elif element.tag == "textarea":
            values[name] = element.text()
    return values


def field_errors(doc: Element, form: Element) -> dict[str, str]:
    """For each control marked invalid: the text of what it is described by.

    Also checks that each such description sits next to its own field: the smallest element
    holding both the control and its description holds no other field's control.
    """
    errors: dict[str, str] = {}
    for name in sorted(form.control_names()):
        controls = form.find_all(name=name)
        fieldsets = [a for c in controls for a in c.ancestors() if a.tag == "fieldset"]
        holders = list({id(h): h for h in controls + fieldsets}.values())
        if not _marked_invalid(holders):
            continue
        texts: list[str] = []
        for holder in holders:
            for described_id in holder.attrs.get("aria-describedby", "").split():
                described = doc.by_id(described_id)
                assert described is not None, f"aria-describedby points at missing #{described_id}"
                shared = next(a for a in described.ancestors() if a.contains(controls[0]))
                assert shared.control_names() == {name}, (
                    f"the description of {name!r} is not next to its field"
                )
                texts.append(described.text())
        errors[name] = " ".join(texts)
    return errors


def _marked_invalid(holders: list[Element]) -> bool:
    for holder in holders:
        if holder.attrs.get("aria-invalid") == "true":
            return True
        # A group of radios is marked by its fieldset being described by an error.
        if holder.tag == "fieldset" and holder.attrs.get("aria-describedby", "").strip():
            return True
    return False
