-- source record -> person_id and patient_key (the person's one keyed pseudonym, from
-- person_keys), with the strongest identifier type the person is known by.
with basis as (
    select
        r.person_id,
        min(
            case o.identifier_type
                when 'id_number' then 1 when 'mobile' then 2 when 'wechat_unionid' then 3
                when 'platform_user_id' then 4
            end
        ) as basis_rank
    from {{ ref('person_registry') }} as r
    inner join {{ ref('identity_observations') }} as o
        on r.source = o.source and r.source_record_id = o.source_record_id
    group by r.person_id
)

select
    r.source,
    r.source_record_id,
    r.person_id,
    k.patient_key,
    case b.basis_rank
        when 1 then 'id_number' when 2 then 'mobile' when 3 then 'wechat_unionid' when 4 then 'platform_user_id'
        else 'source_record'
    end as identifier_basis
from {{ ref('person_registry') }} as r
inner join {{ ref('person_keys') }} as k on r.person_id = k.person_id
left join basis as b on r.person_id = b.person_id
