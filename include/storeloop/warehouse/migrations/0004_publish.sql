-- 0004: what recommender_score keeps about scoring and publishing (docs/contracts.md, "Recommender" and
-- "Publishing"). Written by storeloop/warehouse/ml_tables.py (scores, per run) and storeloop/warehouse/publish_state.py
-- (what the store holds).

-- where each customer's list came from: 'model' (the champion scored the customer's history) or 'trending' (no
-- history: the champion's popularity over eligible products); the dbt build of fct_order_lines the scoring read
alter table ml.customer_recommendations add column if not exists source text not null default 'model';
alter table ml.customer_recommendations add column if not exists features_build text;

-- related products per product, per run; source 'model' (the model's neighbours) or the explicit fallback that
-- filled the list: 'same_type', 'same_vendor', 'trending'
create table if not exists ml.product_recommendations (
    product_id text not null,
    related_product_id text not null,
    rank integer not null,
    score double precision not null,
    source text not null,
    model_version integer not null,
    run_id text not null,
    features_build text,
    scored_at timestamptz not null default now(),
    primary key (run_id, product_id, rank)
);

-- the challenger scored in shadow (never published), same columns as the champion's tables
create table if not exists ml.shadow_customer_recommendations (like ml.customer_recommendations including all);
create table if not exists ml.shadow_product_recommendations (like ml.product_recommendations including all);

-- the shadow challenger's agreement with the champion, one row per scoring run that had one
create table if not exists ml.shadow_agreement (
    run_id text primary key,
    champion_version integer not null,
    challenger_version integer not null,
    customers integer not null,
    overlap_at_10 double precision not null,       -- mean |champion top-10 ∩ challenger top-10| / 10 per customer
    lists_differ_share double precision not null,  -- share of customers whose top-10 differ (as ordered lists)
    champion_coverage double precision not null,   -- distinct products recommended / eligible products
    challenger_coverage double precision not null,
    recorded_at timestamptz not null default now()
);

-- what the store holds: one row per metafield Storeloop wrote and has not removed. A list is written only when its
-- digest differs from this row's; a row is removed when its metafield is deleted (or its owner is gone from Shopify).
create table if not exists ml.published_lists (
    owner_gid text not null,
    key text not null,                 -- metafield key in namespace storeloop: related_products / personal_picks
    value_digest text not null,        -- md5 of the metafield value as written
    items integer not null,
    model_version integer not null,
    run_id text not null,
    published_at timestamptz not null default now(),
    primary key (owner_gid, key)
);

-- one row per publish attempt (a rerun of a run replaces it): the guardrails read the last completed one
create table if not exists ml.publish_runs (
    run_id text primary key,
    model_version integer not null,
    status text not null,              -- running, dry_run, aborted, canary_failed, complete, complete_with_failures
    reason text,                       -- why aborted (the guardrails that fired), or null
    lists_desired integer not null,
    to_set integer not null,
    to_delete integer not null,
    unchanged integer not null,
    written integer not null default 0,
    deleted integer not null default 0,
    failed integer not null default 0,
    coverage double precision,         -- distinct products in the desired lists / eligible products
    forced boolean not null default false,
    started_at timestamptz not null default now(),
    finished_at timestamptz
);

-- every owner a publish could not write or delete, with Shopify's message (a rerun of the run replaces its rows)
create table if not exists ml.publish_failures (
    run_id text not null,
    owner_gid text not null,
    key text not null,
    action text not null,              -- set / delete
    message text not null,
    code text,
    recorded_at timestamptz not null default now()
);
create index if not exists publish_failures_run_idx on ml.publish_failures (run_id);
