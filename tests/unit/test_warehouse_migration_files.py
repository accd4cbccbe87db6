"""The migration files themselves (no database): numbered 1..n without gaps, named so the runner can order them."""

import pytest

from storeloop.warehouse.migrations import MIGRATIONS_DIR, MigrationError, available, read_migrations


def test_storeloops_migrations_are_numbered_from_one():
    names = [m.file_name for m in available()]  # read_migrations refuses a gap: 1..n
    assert names[:3] == ["0001_raw_shopify.sql", "0002_ml.sql", "0003_monitoring.sql"]
    assert "0005_product_eligibility.sql" in names
    assert all((MIGRATIONS_DIR / m.file_name).exists() for m in available())


def test_a_gap_a_duplicate_or_a_bad_name_is_refused(tmp_path):
    (tmp_path / "0001_a.sql").write_text("select 1;")
    (tmp_path / "0003_c.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="must be 1..2"):
        read_migrations(tmp_path)
    (tmp_path / "0003_c.sql").rename(tmp_path / "0002_c.sql")
    assert [m.version for m in read_migrations(tmp_path)] == [1, 2]
    (tmp_path / "0002_b.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="each once"):
        read_migrations(tmp_path)
    (tmp_path / "0002_b.sql").unlink()
    (tmp_path / "3_Bad-Name.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="NNNN_<lowercase_name>.sql"):
        read_migrations(tmp_path)


def test_the_checksum_ignores_line_endings_only():
    m = available()[0]
    crlf = type(m)(m.version, m.name, m.sql.replace("\n", "\r\n"))
    assert crlf.checksum == m.checksum
    assert type(m)(m.version, m.name, m.sql + " ").checksum != m.checksum
