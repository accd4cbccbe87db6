"""The warehouse's writers name the frames and results they store without importing recsys or monitoring (those
import no database code, and the warehouse imports neither): these checks keep the two sides equal."""

import dataclasses
import typing

from storeloop.monitoring.drift import DriftSummary
from storeloop.recsys.interactions import RECOMMENDATION_COLUMNS
from storeloop.warehouse import ml_tables, monitoring_tables


def test_the_recommendations_table_stores_the_recommenders_output_columns():
    assert ml_tables.RECOMMENDATION_COLUMNS == tuple(RECOMMENDATION_COLUMNS)
    assert ml_tables.TABLE_COLUMNS[: len(RECOMMENDATION_COLUMNS)] == list(RECOMMENDATION_COLUMNS)


def test_a_drift_summary_has_every_field_the_drift_table_stores():
    stored = set(typing.get_type_hints(monitoring_tables.DriftResult))
    assert stored <= {f.name for f in dataclasses.fields(DriftSummary)}


def test_the_scored_list_tables_store_the_columns_scoring_produces():
    from storeloop.recsys import scoring

    assert ml_tables.CUSTOMER_COLUMNS == scoring.CUSTOMER_COLUMNS
    assert ml_tables.PRODUCT_COLUMNS == scoring.PRODUCT_COLUMNS
