"""theme/snippets/storeloop-recommendations.liquid renders the recommendations Storeloop publishes as metafields.

Rendered with python-liquid through a `render` tag, as a theme does; Shopify's own filters are stand-ins
(tests/support/liquid_theme.py), the product and customer are dicts shaped like Shopify's Liquid objects."""

from __future__ import annotations

import pytest
from support.liquid_theme import (
    RenderedLinks,
    product_list_metafield,
    render_in_theme,
    shopify_product,
)

from storeloop.publish.metafields import BUY_AGAIN_KEY, FOR_YOU_KEY, NAMESPACE, RELATED_PRODUCTS_KEY

PRODUCT_BLOCK = "{% render 'storeloop-recommendations', source: 'product', limit: 4 %}"
CUSTOMER_BLOCK = "{% render 'storeloop-recommendations', source: 'customer', limit: 4 %}"


def catalog(n: int) -> list[dict]:
    """Products 101.. with prices 10.00, 11.00, ...; every other one without an image."""
    return [
        shopify_product(100 + i, f"Product {i}", 1000 + 100 * (i - 1),
                        image=f"//cdn.example/p{i}.jpg?v=1" if i % 2 else None)
        for i in range(1, n + 1)
    ]


def viewed_product(related: list[dict] | None) -> dict:
    metafields = {} if related is None else {NAMESPACE: {RELATED_PRODUCTS_KEY: product_list_metafield(related)}}
    return shopify_product(1, "Viewed product", 5000, metafields=metafields)


def logged_in_customer(picks: list[dict] | None, for_you: list[dict] | None = None) -> dict:
    lists = {BUY_AGAIN_KEY: picks, FOR_YOU_KEY: for_you}
    metafields = {NAMESPACE: {key: product_list_metafield(v) for key, v in lists.items() if v is not None}}
    return {"id": 7, "first_name": "Ada", "metafields": metafields if any(v is not None for v in lists.values()) else {}}


def test_related_products_render_as_links_in_the_metafields_order_with_price_and_image():
    related = catalog(3)[::-1]  # the metafield's order (Storeloop's rank), not the catalog's
    page = RenderedLinks(render_in_theme(PRODUCT_BLOCK, product=viewed_product(related)))

    assert page.headings == ["You may also like"]
    assert page.links == [
        ("/products/product-103", "Product 3 $12.00"),
        ("/products/product-102", "Product 2 $11.00"),
        ("/products/product-101", "Product 1 $10.00"),
    ]
    # products 3 and 1 have a featured image, product 2 has none (and renders no <img>)
    assert page.images == ["//cdn.example/p3.jpg?v=1&width=300", "//cdn.example/p1.jpg?v=1&width=300"]


@pytest.mark.parametrize("limit, shown", [(2, 2), (4, 4), (10, 6)])
def test_related_products_obey_limit(limit, shown):
    block = f"{{% render 'storeloop-recommendations', source: 'product', limit: {limit} %}}"
    page = RenderedLinks(render_in_theme(block, product=viewed_product(catalog(6))))
    assert [href for href, _ in page.links] == [f"/products/product-{100 + i}" for i in range(1, shown + 1)]


def test_without_a_limit_four_are_shown():
    page = RenderedLinks(render_in_theme("{% render 'storeloop-recommendations', source: 'product' %}",
                                         product=viewed_product(catalog(6))))
    assert len(page.links) == 4


def test_buy_again_render_for_a_logged_in_customer():
    picks = catalog(2)
    page = RenderedLinks(render_in_theme(CUSTOMER_BLOCK, customer=logged_in_customer(picks),
                                         product=viewed_product(catalog(5))))
    assert page.headings == ["Buy again"]
    assert page.links == [("/products/product-101", "Product 1 $10.00"), ("/products/product-102", "Product 2 $11.00")]


def test_for_you_renders_its_own_list_not_the_buy_again_one():
    products = catalog(4)
    customer = logged_in_customer(products[:2], for_you=products[2:])
    page = RenderedLinks(render_in_theme("{% render 'storeloop-recommendations', source: 'for_you' %}",
                                         customer=customer))
    assert page.headings == ["Picked for you"]
    assert page.links == [("/products/product-103", "Product 3 $12.00"), ("/products/product-104", "Product 4 $13.00")]
    assert render_in_theme("{% render 'storeloop-recommendations', source: 'for_you' %}",
                           customer=logged_in_customer(products[:2])).strip() == ""


def test_a_heading_parameter_replaces_the_default_heading_escaped():
    block = "{% render 'storeloop-recommendations', source: 'customer', heading: 'Für dich & mich' %}"
    html = render_in_theme(block, customer=logged_in_customer(catalog(1)))
    assert "<h2>Für dich &amp; mich</h2>" in html


@pytest.mark.parametrize(
    "block, objects",
    [
        pytest.param(PRODUCT_BLOCK, {"product": viewed_product(None)}, id="product-without-the-metafield"),
        pytest.param(PRODUCT_BLOCK, {"product": viewed_product([])}, id="product-with-an-empty-list"),
        pytest.param(PRODUCT_BLOCK, {"product": shopify_product(1, "P", 100, metafields={NAMESPACE: {}})},
                     id="product-with-the-namespace-but-not-the-key"),
        pytest.param(PRODUCT_BLOCK, {}, id="no-product-on-the-page"),
        pytest.param(CUSTOMER_BLOCK, {"customer": logged_in_customer(None)}, id="customer-without-the-metafield"),
        pytest.param(CUSTOMER_BLOCK, {"customer": logged_in_customer([])}, id="customer-with-an-empty-list"),
        pytest.param(CUSTOMER_BLOCK, {"product": viewed_product(catalog(3))}, id="no-customer-logged-in"),
        pytest.param(CUSTOMER_BLOCK, {"customer": None, "product": viewed_product(catalog(3))},
                     id="customer-is-nil"),
        pytest.param("{% render 'storeloop-recommendations', source: 'collection' %}",
                     {"product": viewed_product(catalog(3))}, id="unknown-source"),
    ],
)
def test_nothing_is_rendered_without_recommendations(block, objects):
    assert render_in_theme(f"<main>{block}</main>", **objects) == "<main></main>"


def test_a_title_with_markup_is_escaped():
    hostile = shopify_product(9, '<script>alert("x")</script> & co', 999)
    html = render_in_theme(PRODUCT_BLOCK, product=viewed_product([hostile]))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html
