-- Inbound numbers (issue 19): an organization's phone numbers, each on one of its trunks,
-- with the assistant that answers, its business hours, and what a caller gets outside
-- them or when no worker is free.
create table phone_numbers (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    trunk_id uuid not null references trunks (id) on delete cascade,
    -- E.164.
    number text not null,
    assistant_id uuid references assistants (id) on delete set null,
    timezone text not null,
    business_days text[] not null,
    -- Local hours [open_hour, close_hour); 0..24 is always open.
    open_hour smallint not null check (open_hour between 0 and 23),
    close_hour smallint not null check (close_hour between 1 and 24),
    after_hours_action text not null check (after_hours_action in ('message', 'voicemail')),
    after_hours_message text not null,
    no_worker_action text not null check (no_worker_action in ('message', 'voicemail')),
    no_worker_message text not null,
    -- LiveKit's inbound trunk and dispatch rule for a number on a livekit_sip trunk.
    livekit_inbound_trunk_id text,
    livekit_dispatch_rule_id text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, number)
);
create index phone_numbers_org_idx on phone_numbers (org_id, created_at desc);
create trigger phone_numbers_updated_at before update on phone_numbers
    for each row execute function set_updated_at();

-- Calls in both directions. An inbound call's to_phone is our number and from_phone the
-- caller (as Twilio spells them). `inbound_action` says what answered it: only
-- `assistant` calls hold a worker slot (a message or a voicemail is Twilio alone).
alter table calls
    add column direction text not null default 'outbound'
        check (direction in ('outbound', 'inbound')),
    add column phone_number_id uuid references phone_numbers (id) on delete set null,
    add column inbound_action text
        check (inbound_action in ('assistant', 'message', 'voicemail'));
create index calls_contact_idx on calls (contact_id, created_at desc) where contact_id is not null;

-- A caller's number finds its contact (inbound calls and texts).
create index contacts_org_phone_idx on contacts (org_id, phone, created_at desc);
