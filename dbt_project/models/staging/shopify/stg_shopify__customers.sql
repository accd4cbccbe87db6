-- One row per customer id: the best version (API over CSV, then latest updated_at, then latest load).
-- Emails are trimmed and lower-cased; the country is the default address's (API `defaultAddress.countryCodeV2`,
-- CSV `Default Address Country Code`, or `Country Code` in the legacy export).

with

source as (

    select * from {{ source('shopify', 'customers') }}

),

renamed as (

    select

        ----------  ids
        id as customer_id,

        ---------- text
        nullif(lower(trim(email)), '') as email,
        {{ country_code("coalesce(_record -> 'defaultAddress' ->> 'countryCodeV2', _record ->> 'Default Address Country Code', _record ->> 'Country Code')") }}
            as country_code,

        ---------- timestamps
        created_at,
        updated_at,

        ---------- bookkeeping
        {{ source_kind() }} as source_kind,
        _source,
        _run_id,
        _loaded_at

    from source

),

latest_version as (

    select distinct on (customer_id) *

    from renamed

    order by customer_id, {{ latest_version_order() }}

)

select * from latest_version
