-- SIP trunks / Twilio accounts and campaigns with their rules.

create table trunks (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    name text not null,
    provider text not null,
    mode text not null check (mode in ('livekit_sip', 'twilio_stream')),
    numbers text[] not null default '{}',
    address text,
    auth_username text,
    -- Secrets are AES-256-GCM encrypted with the deployment's key (nonce || ciphertext).
    auth_password_enc bytea,
    account_sid text,
    auth_token_enc bytea,
    calls_per_second double precision not null default 1,
    livekit_trunk_id text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index trunks_org_idx on trunks (org_id, created_at desc);
create trigger trunks_updated_at before update on trunks
    for each row execute function set_updated_at();

create table campaigns (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    name text not null,
    assistant_id uuid not null references assistants (id),
    contact_list_id uuid not null references contact_lists (id),
    trunk_id uuid not null references trunks (id),
    mode text not null check (mode in ('livekit_sip', 'twilio_stream')),
    status text not null default 'draft'
        check (status in ('draft', 'running', 'paused', 'stopped', 'completed', 'error')),
    status_reason text,
    timezone text not null,
    calling_days text[] not null,
    start_hour smallint not null,
    end_hour smallint not null,
    allow_outside_legal_hours boolean not null default false,
    daily_cap integer,
    max_concurrent_calls integer not null,
    calls_per_minute integer,
    max_attempts integer not null,
    retry_busy_min integer not null,
    retry_no_answer_min integer not null,
    retry_failed_min integer not null,
    retry_voicemail_min integer not null,
    amd_enabled boolean not null default false,
    amd_timeout_sec integer not null default 30,
    voicemail_action text not null default 'hangup' check (voicemail_action in ('hangup', 'leave_message')),
    budget_per_call_cents integer,
    budget_monthly_cents integer,
    campaign_prompt text,
    variables jsonb not null default '{}'::jsonb,
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index campaigns_org_idx on campaigns (org_id, created_at desc);
create index campaigns_running_idx on campaigns (status) where status = 'running';
create trigger campaigns_updated_at before update on campaigns
    for each row execute function set_updated_at();

-- The dial queue: one row per (campaign, contact), leased with FOR UPDATE SKIP LOCKED.
create table campaign_attempts (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    campaign_id uuid not null references campaigns (id) on delete cascade,
    contact_id uuid not null references contacts (id) on delete cascade,
    state text not null default 'pending'
        check (state in ('pending', 'leased', 'dialing', 'in_call', 'done', 'exhausted', 'skipped', 'canceled')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    lease_owner text,
    lease_expires_at timestamptz,
    last_call_id uuid,
    last_result text,
    skip_reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (campaign_id, contact_id)
);
create index campaign_attempts_due_idx on campaign_attempts (campaign_id, next_attempt_at)
    where state = 'pending';
create index campaign_attempts_state_idx on campaign_attempts (campaign_id, state);
create trigger campaign_attempts_updated_at before update on campaign_attempts
    for each row execute function set_updated_at();
