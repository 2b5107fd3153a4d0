-- Calls and what they produced: events, transcripts, recordings, usage.

create table calls (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    campaign_id uuid references campaigns (id) on delete set null,
    contact_id uuid references contacts (id) on delete set null,
    attempt_id uuid references campaign_attempts (id) on delete set null,
    assistant_id uuid references assistants (id) on delete set null,
    assistant_version integer,
    trunk_id uuid references trunks (id) on delete set null,
    mode text not null check (mode in ('livekit_sip', 'twilio_stream')),
    to_phone text not null,
    from_phone text,
    status text not null default 'queued'
        check (status in ('queued', 'initiated', 'ringing', 'in_progress', 'completed', 'busy', 'no_answer', 'failed', 'canceled')),
    answered_by text,
    outcome text check (outcome in ('interested', 'not_interested', 'callback', 'do_not_call', 'voicemail', 'wrong_number')),
    outcome_notes text,
    provider_call_id text,
    room_name text,
    variables jsonb not null default '{}'::jsonb,
    started_at timestamptz,
    answered_at timestamptz,
    ended_at timestamptz,
    duration_sec integer,
    end_reason text,
    cost_cents double precision not null default 0,
    cost_breakdown jsonb not null default '{}'::jsonb,
    latency jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index calls_org_created_idx on calls (org_id, created_at desc);
create index calls_campaign_idx on calls (campaign_id, created_at desc);
create unique index calls_provider_call_id_key on calls (provider_call_id) where provider_call_id is not null;
create trigger calls_updated_at before update on calls
    for each row execute function set_updated_at();

create table call_events (
    call_id uuid not null references calls (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    seq bigint not null,
    kind text not null,
    payload jsonb not null,
    created_at timestamptz not null default now(),
    primary key (call_id, seq)
);

create table transcript_entries (
    id bigserial primary key,
    call_id uuid not null references calls (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    start_ms bigint not null,
    end_ms bigint not null,
    speaker text not null check (speaker in ('agent', 'callee')),
    text text not null,
    confidence double precision
);
create index transcript_entries_call_idx on transcript_entries (call_id, start_ms);

create table recordings (
    id uuid primary key,
    call_id uuid not null references calls (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    location text not null,
    format text not null,
    channels smallint not null default 2,
    duration_sec double precision,
    size_bytes bigint,
    created_at timestamptz not null default now()
);
create index recordings_call_idx on recordings (call_id);

-- Provider request and error counts per call, reported by workers; feeds /api/v1/metrics.
create table provider_usage (
    call_id uuid not null references calls (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    kind text not null check (kind in ('stt', 'llm', 'tts')),
    requests bigint not null default 0,
    errors bigint not null default 0,
    primary key (call_id, kind)
);
create index provider_usage_org_idx on provider_usage (org_id);
