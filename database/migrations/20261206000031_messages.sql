-- SMS in and out (issue 19), through Twilio's Messages resource.
create table messages (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    contact_id uuid references contacts (id) on delete set null,
    call_id uuid references calls (id) on delete set null,
    phone_number_id uuid references phone_numbers (id) on delete set null,
    direction text not null check (direction in ('outbound', 'inbound')),
    from_phone text not null,
    to_phone text not null,
    body text not null,
    -- Twilio's status words (queued, sent, delivered, undelivered, failed, received, ...).
    status text not null,
    provider_message_id text,
    error_code integer,
    error_message text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index messages_provider_id_key on messages (provider_message_id)
    where provider_message_id is not null;
create index messages_org_idx on messages (org_id, created_at desc);
create index messages_contact_idx on messages (contact_id, created_at desc) where contact_id is not null;
create trigger messages_updated_at before update on messages
    for each row execute function set_updated_at();

-- Position of a message status in its life: a status callback only moves a message
-- forward (callbacks may arrive out of order or twice).
create function message_status_rank(status text) returns integer
language sql immutable as $$
    select case status
        when 'accepted' then 0
        when 'scheduled' then 0
        when 'queued' then 1
        when 'sending' then 2
        when 'sent' then 3
        when 'receiving' then 3
        else 4
    end
$$;
