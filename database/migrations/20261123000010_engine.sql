-- The campaign engine's shared state: rate limiters, the dial-decision audit, workers.

-- Position of a call status in its life cycle: a callback may only move a call forward.
create function call_status_rank(status text) returns integer
language sql immutable as $$
    select case status
        when 'queued' then 0
        when 'initiated' then 1
        when 'ringing' then 2
        when 'in_progress' then 3
        else 4
    end
$$;

-- GCRA state for limits that must hold across every control-plane replica:
-- per-trunk calls per second and per-campaign calls per minute. `tat` is the
-- theoretical arrival time of the next permitted call.
create table rate_limits (
    key text primary key,
    tat timestamptz not null
);

-- Why each attempt was (or was not) dialed when the engine looked at it.
create table attempt_decisions (
    id bigserial primary key,
    attempt_id uuid not null references campaign_attempts (id) on delete cascade,
    campaign_id uuid not null references campaigns (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    decided_at timestamptz not null,
    decision text not null,
    detail text
);
create index attempt_decisions_attempt_idx on attempt_decisions (attempt_id, id);

-- Agent workers (deployment-wide, not per organization) and their free capacity.
create table workers (
    id text primary key,
    mode text not null check (mode in ('livekit_sip', 'twilio_stream')),
    url text,
    capacity integer not null,
    active_calls integer not null,
    draining boolean not null default false,
    last_heartbeat_at timestamptz not null
);

alter table calls add column worker_id text;
alter table calls add column sequence_seen integer not null default -1;
alter table calls add column events_seq bigint not null default 0;
alter table campaign_attempts add column result_history jsonb not null default '[]'::jsonb;
create index calls_dialing_reconcile_idx on calls (status, created_at) where status in ('queued', 'initiated', 'ringing', 'in_progress');
