-- Customer webhooks (issue 16): one ordered event log per organization, the endpoints
-- that subscribe to it, and one delivery row per (endpoint, event): the outbox.
--
-- Events are written by triggers and by `emit_org_event`, always inside the transaction
-- that changes the state they describe: whichever code path moves a call or a campaign
-- (engine, provider callbacks, upkeep, the workers' API), its event commits with it or
-- not at all, and a path added later cannot forget to emit.

create table webhook_endpoints (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    url text not null,
    description text,
    -- The event types this endpoint receives (`call.status`, `call.report`, ...).
    event_types text[] not null,
    -- The signing secret, sealed with the deployment's encryption key (we must read it
    -- back to sign); shown to the customer once, at creation.
    secret_enc bytea not null,
    enabled boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index webhook_endpoints_org_idx on webhook_endpoints (org_id, created_at);
create trigger webhook_endpoints_updated_at before update on webhook_endpoints
    for each row execute function set_updated_at();

create table org_events (
    id uuid primary key default gen_random_uuid(),
    -- Commit order within one call or campaign: their rows are locked while an event
    -- about them is written, so a later event of the same call always has a larger seq.
    seq bigint generated always as identity unique,
    org_id uuid not null references organizations (id) on delete cascade,
    type text not null,
    call_id uuid,
    campaign_id uuid,
    data jsonb not null,
    -- An audit stamp (no rule reads it): when the event was recorded.
    created_at timestamptz not null default now()
);
create index org_events_org_idx on org_events (org_id, seq);
create index org_events_call_idx on org_events (call_id, seq) where call_id is not null;

create table webhook_deliveries (
    id bigint generated always as identity primary key,
    endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    event_id uuid not null references org_events (id) on delete cascade,
    event_seq bigint not null,
    -- Deliveries with the same key (a call, else a campaign) go out one at a time, in
    -- event order; null: no order to keep.
    order_key uuid,
    state text not null default 'pending' check (state in ('pending', 'succeeded', 'failed')),
    attempts integer not null default 0,
    -- Null: due at once (the trigger that fans out has no application clock).
    next_attempt_at timestamptz,
    first_attempt_at timestamptz,
    last_attempt_at timestamptz,
    lease_owner text,
    lease_expires_at timestamptz,
    last_status integer,
    last_error text,
    delivered_at timestamptz,
    unique (endpoint_id, event_id)
);
create index webhook_deliveries_pending_idx on webhook_deliveries (endpoint_id, order_key, event_seq)
    where state = 'pending';
create index webhook_deliveries_log_idx on webhook_deliveries (endpoint_id, event_seq desc);

-- Appends an event to the organization's log and queues a delivery for every enabled
-- endpoint of the organization that subscribed to its type. Returns the event's id.
create function emit_org_event(p_org uuid, p_type text, p_call uuid, p_campaign uuid, p_data jsonb)
returns uuid language plpgsql as $$
declare
    event uuid;
    event_seq bigint;
begin
    insert into org_events (org_id, type, call_id, campaign_id, data)
    values (p_org, p_type, p_call, p_campaign, p_data)
    returning id, seq into event, event_seq;
    insert into webhook_deliveries (endpoint_id, org_id, event_id, event_seq, order_key)
    select e.id, p_org, event, event_seq, coalesce(p_call, p_campaign)
    from webhook_endpoints e
    where e.org_id = p_org and e.enabled and p_type = any (e.event_types);
    return event;
end
$$;

-- `call.status`: queued, ringing, in-progress, ended (Twilio's `initiated` is internal).
create function calls_emit_status() returns trigger language plpgsql as $$
declare
    public_status text;
begin
    if tg_op = 'UPDATE' and new.status = old.status then
        return null;
    end if;
    public_status := case new.status
        when 'queued' then 'queued'
        when 'initiated' then null
        when 'ringing' then 'ringing'
        when 'in_progress' then 'in-progress'
        else 'ended'
    end;
    if public_status is null then
        return null;
    end if;
    perform emit_org_event(new.org_id, 'call.status', new.id, new.campaign_id, jsonb_build_object(
        'callId', new.id,
        'campaignId', new.campaign_id,
        'contactId', new.contact_id,
        'status', public_status,
        'callStatus', new.status,
        'to', new.to_phone,
        'from', new.from_phone,
        'answeredBy', new.answered_by,
        'endedReason', new.end_reason));
    return null;
end
$$;
create trigger calls_emit_status after insert or update of status on calls
    for each row execute function calls_emit_status();

-- `campaign.started` (also on resume), `.paused`, `.completed`, `.stopped`, `.failed`.
create function campaigns_emit_status() returns trigger language plpgsql as $$
declare
    event_type text;
begin
    if new.status = old.status then
        return null;
    end if;
    event_type := case new.status
        when 'running' then 'campaign.started'
        when 'paused' then 'campaign.paused'
        when 'completed' then 'campaign.completed'
        when 'stopped' then 'campaign.stopped'
        when 'error' then 'campaign.failed'
    end;
    if event_type is null then
        return null;
    end if;
    perform emit_org_event(new.org_id, event_type, null, new.id, jsonb_build_object(
        'campaignId', new.id,
        'name', new.name,
        'status', new.status,
        'previousStatus', old.status,
        'reason', new.status_reason));
    return null;
end
$$;
create trigger campaigns_emit_status after update of status on campaigns
    for each row execute function campaigns_emit_status();

-- The end-of-call report goes out once per call, when the call has ended, its worker has
-- reported everything (or had its grace) and its analysis (if any) is done.
alter table calls add column report_emitted boolean not null default false;
alter table calls add column report_lease_expires_at timestamptz;
update calls set report_emitted = true where call_status_rank(status) = 4;
create index calls_report_due_idx on calls (id) where not report_emitted;

-- Pre-dial eligibility check per campaign: the customer's URL is asked, signed with the
-- named endpoint's secret, before each dial.
create table campaign_pre_dial_checks (
    campaign_id uuid primary key references campaigns (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
    -- Null: the endpoint's own URL.
    url text,
    timeout_ms integer not null check (timeout_ms between 50 and 10000),
    -- What a timeout, an error or an unreadable answer counts as.
    default_eligible boolean not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger campaign_pre_dial_checks_updated_at before update on campaign_pre_dial_checks
    for each row execute function set_updated_at();

-- Post-call analysis per assistant, and its result per call.
create table assistant_analysis_plans (
    assistant_id uuid primary key references assistants (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    summary boolean not null,
    -- A JSON Schema the call's structured data must satisfy; null: none asked.
    structured_data_schema jsonb,
    -- What success means for this assistant; null: no success evaluation.
    success_criteria text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger assistant_analysis_plans_updated_at before update on assistant_analysis_plans
    for each row execute function set_updated_at();

create table call_analyses (
    call_id uuid primary key references calls (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    status text not null check (status in ('completed', 'failed')),
    summary text,
    structured_data jsonb,
    success boolean,
    success_reason text,
    -- Why the analysis (or its structured data) failed.
    error text,
    -- LLM requests made (an invalid answer is asked again once).
    requests integer not null,
    cost_cents double precision not null default 0,
    created_at timestamptz not null default now()
);
