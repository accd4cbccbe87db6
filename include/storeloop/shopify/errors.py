"""Errors a merchant's engineer can act on."""

from __future__ import annotations


class ShopifyError(RuntimeError):
    pass


class ShopifyAuthError(ShopifyError):
    """401/403: the token is wrong, or lacks an access scope."""


class ShopifyGraphQLError(ShopifyError):
    """The API answered with `errors` (a document or argument Shopify rejected). Never retried."""

    def __init__(self, message: str, errors: list | None = None):
        super().__init__(message)
        self.errors = errors or []


class ShopifyUserError(ShopifyError):
    """A mutation answered with userErrors."""

    def __init__(self, message: str, user_errors: list):
        super().__init__(message)
        self.user_errors = user_errors


class BulkOperationError(ShopifyError):
    pass
