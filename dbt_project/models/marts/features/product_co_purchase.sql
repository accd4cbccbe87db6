-- Products bought together, as of the cutoff (var `as_of`, default: the start of the run): one row per ordered
-- pair (product_id, other_product_id) of distinct products that appear in the same order (orders placed by the
-- cutoff and not cancelled by it), both directions. With N = orders with at least one product and
-- pair_count = orders containing both,
--   lift = pair_count * N / (orders with product_id * orders with other),
--   confidence = pair_count / orders with product_id  (P(other | product)).
-- Pairs seen in fewer than var `co_purchase_min_pair_count` orders (default 1) are left out. Only the columns the
-- ranker reads are built (include/storeloop/recsys/ranker.py, FEATURE_MODELS).

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

baskets as (

    select distinct
        order_id,
        product_id

    from order_lines

    where ordered_at <= {{ as_of() }}
        and not (is_cancelled and cancelled_at <= {{ as_of() }})
        and product_id is not null

),

n_orders as (

    select count(distinct order_id) as n from baskets

),

product_orders as (

    select
        product_id,
        count(*) as n_orders

    from baskets

    group by product_id

),

pairs as (

    select
        a.product_id,
        b.product_id as other_product_id,
        count(*) as pair_count

    from baskets as a

    inner join baskets as b
        on a.order_id = b.order_id
        and a.product_id <> b.product_id

    group by a.product_id, b.product_id

    having count(*) >= {{ var('co_purchase_min_pair_count') | int }}

),

final as (

    select
        pairs.product_id,
        pairs.other_product_id,
        cast(pairs.pair_count * n_orders.n / cast(pa.n_orders * pb.n_orders as double precision) as double precision)
            as lift,
        cast(pairs.pair_count / cast(pa.n_orders as double precision) as double precision) as confidence,
        {{ as_of() }} as as_of

    from pairs

    inner join product_orders as pa
        on pairs.product_id = pa.product_id

    inner join product_orders as pb
        on pairs.other_product_id = pb.product_id

    cross join n_orders

)

select * from final
