-- 0002: what recommender_score writes (docs/contracts.md, "Recommender"): each customer's top-k products, per run.
-- A rerun of a run replaces its rows (storeloop/warehouse/ml_tables.py). `if not exists`: a warehouse whose table was
-- created by the writer's old `create table if not exists` (the same DDL) is adopted as it is.
create schema if not exists ml;

create table if not exists ml.customer_recommendations (
    customer_id text not null,
    product_id text not null,
    rank integer not null,
    score double precision not null,
    model_version integer not null,
    run_id text not null,
    scored_at timestamptz not null default now(),
    primary key (run_id, customer_id, rank)
);
