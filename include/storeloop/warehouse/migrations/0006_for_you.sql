-- 0006: the second customer list (docs/recommender.md, "Two lists"): per run, the `for_you` model's top products
-- among those the customer never bought, published as the metafield storeloop.for_you. Same columns as
-- ml.customer_recommendations; model_version is the `for_you` model's (which may be the champion).
create table if not exists ml.for_you_recommendations (like ml.customer_recommendations including all);
