"""Rendering the theme's Liquid snippets (theme/snippets/) with python-liquid, the way a Shopify theme renders them.

python-liquid implements standard Liquid (tags, `render`, `escape`, `default`, ...), not Shopify's own filters. The
Shopify filters a snippet uses are registered here as small STAND-INS, written from Shopify's Liquid reference; they
are not Shopify's implementation:

- `money`: Shopify formats an amount in the currency's subunit (cents) by the store's currency settings; the
  stand-in always gives `$` and two decimals (1999 -> `$19.99`).
- `image_url`: Shopify returns a CDN URL for an image, resized, and fails without `width` or `height`; the stand-in
  appends `width=`/`height=` to the image's `src` and fails the same way.
- `image_tag`: Shopify builds a full `<img>` (srcset, width, height, the image's alt, lazy loading); the stand-in
  gives `<img src="..." alt="...">` with the attributes escaped.

Any other filter is unknown (`strict_filters`), so a snippet that starts using one fails its test until a stand-in is
added here. Data are plain dicts shaped like Shopify's Liquid objects (`product`, `customer`, `image`), metafields as
`owner["metafields"][namespace][key]["value"]`; `list.product_reference` values are lists of product dicts, as
Shopify resolves them in Liquid."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

from liquid import DictLoader, Environment
from liquid.exceptions import FilterArgumentError

THEME = Path(__file__).resolve().parents[2] / "theme"


def money(amount) -> str:
    """Stand-in for Shopify's `money`: an amount in cents as `$D.CC`."""
    if amount is None or amount == "":
        return ""
    return f"${int(amount) / 100:.2f}"


def image_url(image, width=None, height=None) -> str:
    """Stand-in for Shopify's `image_url: width: N`: the image's `src` with the requested size."""
    if width is None and height is None:
        raise FilterArgumentError("image_url needs a width or a height (Shopify returns an error without one)")
    src = image["src"] if isinstance(image, dict) else str(image)
    size = "&".join(f"{k}={v}" for k, v in (("width", width), ("height", height)) if v is not None)
    return f"{src}{'&' if '?' in src else '?'}{size}"


def image_tag(url, alt: str = "", **attributes) -> str:
    """Stand-in for Shopify's `image_tag`: an `<img>` for an `image_url` result."""
    attrs = {"src": url, "alt": alt, **attributes}
    return "<img " + " ".join(f'{k}="{html.escape(str(v), quote=True)}"' for k, v in attrs.items()) + ">"


SHOPIFY_FILTER_STAND_INS = {"money": money, "image_url": image_url, "image_tag": image_tag}


def theme_environment(theme: Path = THEME) -> Environment:
    """A Liquid environment whose `render 'name'` finds `theme/snippets/name.liquid`, with the stand-ins above."""
    snippets = {path.stem: path.read_text(encoding="utf-8") for path in (theme / "snippets").glob("*.liquid")}
    env = Environment(loader=DictLoader(snippets), strict_filters=True)
    for name, func in SHOPIFY_FILTER_STAND_INS.items():
        env.add_filter(name, func)
    return env


def render_in_theme(source: str, **objects) -> str:
    """Render a piece of a theme template (e.g. a `render` tag) with Liquid objects such as `product`, `customer`."""
    return theme_environment().from_string(source).render(**objects)


def shopify_product(id_: int, title: str, price_cents: int, *, image: str | None = None, metafields=None) -> dict:
    """A dict shaped like Shopify's Liquid `product` object (the properties the theme snippets read)."""
    return {
        "id": id_,
        "title": title,
        "handle": f"product-{id_}",
        "url": f"/products/product-{id_}",
        "price": price_cents,
        "featured_image": {"src": image, "alt": title} if image else None,
        "metafields": metafields or {},
    }


def product_list_metafield(products: list[dict]) -> dict:
    """A `list.product_reference` metafield as Liquid sees it: `.value` is the list of referenced products."""
    return {"type": "list.product_reference", "list?": True, "value": products}


class RenderedLinks(HTMLParser):
    """The headings, links (href, text) and images of rendered HTML, in document order."""

    def __init__(self, markup: str):
        super().__init__()
        self.headings: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.images: list[str] = []
        self._in: str | None = None
        self._href = ""
        self._text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "a"):
            self._in, self._text = tag, []
            self._href = dict(attrs).get("href", "")
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        if self._in:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == self._in:
            text = " ".join("".join(self._text).split())
            if tag == "h2":
                self.headings.append(text)
            else:
                self.links.append((self._href, text))
            self._in = None
