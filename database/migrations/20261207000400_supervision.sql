-- Live supervision: where the control plane reaches a worker's supervision API, and the
-- audit of every supervisor action on a call (who, what, when, and whether it worked).

alter table workers add column supervise_url text;

create table call_supervision_actions (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references organizations(id) on delete cascade,
    call_id uuid not null references calls(id) on delete cascade,
    -- Who: the user of a session, or the API key used (one of the two).
    user_id uuid references users(id) on delete set null,
    api_key_id uuid references api_keys(id) on delete set null,
    action text not null check (action in ('listen_started', 'listen_ended', 'say', 'whisper',
        'end', 'transfer', 'take_over', 'hand_back')),
    -- The action's words (say, whisper), number (transfer) or reason (hand_back).
    detail jsonb not null default '{}',
    ok boolean not null,
    error text,
    created_at timestamptz not null default now()
);

create index call_supervision_actions_call on call_supervision_actions (call_id, created_at, id);
