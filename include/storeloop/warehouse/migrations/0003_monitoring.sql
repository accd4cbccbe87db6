-- 0003: what recommender_monitor writes (docs/contracts.md, "Monitoring"): one drift result per run, replaced by a
-- rerun (storeloop/warehouse/monitoring_tables.py). `if not exists`: a warehouse whose table was created by the
-- writer's old `create table if not exists` (the same DDL) is adopted as it is.
create schema if not exists monitoring;

create table if not exists monitoring.drift_reports (
    run_id text primary key,
    dataset_drift boolean not null,
    drifted_columns integer not null,
    drift_share double precision not null,
    n_columns integer not null,
    column_results jsonb not null,
    n_reference integer not null,
    n_current integer not null,
    model_version integer,
    html_path text,
    json_path text,
    created_at timestamptz not null default now()
);
